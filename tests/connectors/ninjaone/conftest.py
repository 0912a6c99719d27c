"""Fixtures for the NinjaOne tests: a served simulator and connectors pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.ninjaone import NinjaoneConnector
from connectors.ninjaone.settings import NinjaoneSettings
from connectors.ninjaone.simulator import NinjaSimulator
from hub.sandbox import ServedApp, serve_app
from hub.sdk import ConnectorContext, FakeClock, MemoryKeyValueStore, RetryPolicy

#: retries without jitter so waits can be asserted exactly
RETRY = RetryPolicy(attempts=4, base=1.0, cap=30.0, jitter=0.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Served:
    """A running simulator, its control handle and a factory of connectors for it."""

    def __init__(self, served: ServedApp, settings: dict[str, Any], control: NinjaSimulator, clock: FakeClock):
        self.served = served
        self.url = served.url
        self.base_settings = settings
        self.control = control
        self.clock = clock
        #: one connector state across the connectors of a test (the severity memo)
        self.state = MemoryKeyValueStore()

    def connector(self, **overrides: Any) -> NinjaoneConnector:
        settings = NinjaoneSettings(**{**self.base_settings, "page_size": 7, **overrides})
        return NinjaoneConnector(settings, ConnectorContext(clock=self.clock, retry=RETRY, state=self.state))


@pytest.fixture
def simulator(clock: FakeClock) -> Iterator[Callable[..., Served]]:
    """``simulator(size=..., **options)`` serves a fresh NinjaOne simulator on loopback; it
    checks its own answers against the spec too (``check_answers``)."""
    running: list[ServedApp] = []

    def start(**options: Any) -> Served:
        options.setdefault("size", 60)
        options.setdefault("clock", clock)
        options.setdefault("check_answers", True)
        sandbox = NinjaoneConnector.sandbox(**options)
        served = serve_app(sandbox.app)
        running.append(served)
        return Served(served, sandbox.settings(served.url), sandbox.control, clock)

    yield start
    for served in running:
        served.stop()


@pytest.fixture
def sim(simulator: Callable[..., Served]) -> Iterator[Served]:
    served = simulator()
    yield served
    # whatever a test did, the connector sent only requests the spec allows and the
    # simulator answered only what the spec describes
    assert served.control.refused == [], served.control.refused
    assert served.control.bad_answers == [], served.control.bad_answers
