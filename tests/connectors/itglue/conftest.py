"""Fixtures for the IT Glue connector tests: a served simulator and connectors built on it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.itglue import ITGlueConnector, ITGlueSettings
from hub.sandbox import ServedApp
from hub.sdk import ConnectorContext, FakeClock, MemoryKeyValueStore, RetryPolicy
from tests.conftest import vendor_specs

SPECS = vendor_specs() / "itglue" / "examples"


def example(name: str) -> Any:
    """A vendor-spec example payload (the ``body`` of hand-built SHAPE files)."""
    data = json.loads((SPECS / name).read_text(encoding="utf-8"))
    return data.get("body", data) if isinstance(data, dict) and "_note" in data else data


def settings(**overrides: Any) -> ITGlueSettings:
    values = {"api_key": "ITG.test-key", "base_url": "https://api.itglue.com"} | overrides
    return ITGlueSettings(**values)


def make_connector(clock: FakeClock | None = None, **overrides: Any) -> ITGlueConnector:
    context = ConnectorContext(
        clock=clock or FakeClock(), state=MemoryKeyValueStore(), retry=RetryPolicy(attempts=4, jitter=0)
    )
    return ITGlueConnector(settings(**overrides), context)


@dataclass
class Sim:
    """A running simulator, its control handle, and a connector factory pointed at it."""

    url: str
    control: Any
    clock: FakeClock
    make: Callable[..., ITGlueConnector]


@pytest.fixture
def sim() -> Iterator[Sim]:
    clock = FakeClock()
    sandbox = ITGlueConnector.sandbox(size=40, seed=7, monotonic=clock.monotonic)
    with ServedApp(sandbox.app) as served:
        base = sandbox.settings(served.url)

        def make(**overrides: Any) -> ITGlueConnector:
            return make_connector(clock, **(base | {"page_size": 10} | overrides))

        yield Sim(served.url, sandbox.control, clock, make)
