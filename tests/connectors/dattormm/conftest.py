"""Fixtures for the Datto RMM tests: a served simulator and connectors pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.dattormm import DattormmConnector
from connectors.dattormm.settings import DattormmSettings
from connectors.dattormm.simulator import DattoSimulator
from hub.sandbox import ServedApp, serve_app
from hub.sdk import ConnectorContext, FakeClock, RetryPolicy

#: retries without jitter so waits can be asserted exactly
RETRY = RetryPolicy(attempts=4, base=1.0, cap=30.0, jitter=0.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Served:
    """A running simulator, its control handle and a factory of connectors for it."""

    def __init__(self, served: ServedApp, settings: dict[str, Any], control: DattoSimulator, clock: FakeClock):
        self.served = served
        self.url = served.url
        self.base_settings = settings
        self.control = control
        self.clock = clock

    def connector(self, **overrides: Any) -> DattormmConnector:
        settings = DattormmSettings(**{**self.base_settings, "page_size": 7, **overrides})
        return DattormmConnector(settings, ConnectorContext(clock=self.clock, retry=RETRY))


@pytest.fixture
def simulator(clock: FakeClock) -> Iterator[Callable[..., Served]]:
    """``simulator(size=..., **options)`` serves a fresh Datto RMM simulator on loopback;
    it checks its own answers against the spec too (``check_answers``)."""
    running: list[ServedApp] = []

    def start(**options: Any) -> Served:
        options.setdefault("size", 60)
        options.setdefault("clock", clock)
        options.setdefault("check_answers", True)
        sandbox = DattormmConnector.sandbox(**options)
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
    # simulator answered only what the spec (as corrected in spec.py) describes
    assert served.control.refused == [], served.control.refused
    assert served.control.bad_answers == [], served.control.bad_answers
