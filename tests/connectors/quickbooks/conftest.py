"""Fixtures for the QuickBooks connector tests: a fake clock, the simulator served on
loopback, and connectors wired to it (settings loaded the way the hub loads them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.quickbooks import QuickBooksConnector, QuickBooksSettings
from connectors.quickbooks.simulator import QuickBooksSimulator
from hub.sandbox import Sandbox, ServedApp
from hub.sdk import ConnectorContext, FakeClock, KeyValueStore, MemoryKeyValueStore
from hub.settings import load_connector_settings
from tests.conftest import vendor_specs

SPECS = vendor_specs() / "quickbooks" / "examples"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def spec(name: str) -> Any:
    return json.loads((SPECS / name).read_text(encoding="utf-8"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return QuickBooksConnector.sandbox(size=120, seed=3, clock=clock)


@pytest.fixture
def sim(sandbox: Sandbox) -> QuickBooksSimulator:
    control: QuickBooksSimulator = sandbox.control
    return control


@pytest.fixture
def served(sandbox: Sandbox) -> Iterator[ServedApp]:
    with ServedApp(sandbox.app) as app:
        yield app


def load_settings(overrides: dict[str, Any]) -> QuickBooksSettings:
    return load_connector_settings(QuickBooksSettings, "quickbooks", **overrides)


@pytest.fixture
def make_connector(
    sandbox: Sandbox, served: ServedApp, clock: FakeClock
) -> Iterator[Callable[..., QuickBooksConnector]]:
    """``make_connector(state=None, **setting_overrides)``: a connector on the simulator."""
    made: list[QuickBooksConnector] = []

    def make(state: KeyValueStore | None = None, **overrides: Any) -> QuickBooksConnector:
        settings = load_settings({**sandbox.settings(served.url), **overrides})
        connector = QuickBooksConnector(
            settings, ConnectorContext(state=state or MemoryKeyValueStore(), clock=clock)
        )
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def qb(make_connector: Callable[..., QuickBooksConnector]) -> QuickBooksConnector:
    return make_connector()
