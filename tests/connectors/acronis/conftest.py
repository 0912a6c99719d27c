"""Fixtures for the Acronis tests: a served simulator, connectors pointed at it, sandboxes for the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.acronis import AcronisConnector
from connectors.acronis.settings import AcronisSettings
from connectors.acronis.simulator import AcronisSimulator
from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet, ServedApp, serve_app
from hub.sdk import ActionContext, ConnectorContext, FakeClock, MemoryKeyValueStore, RetryPolicy

#: retries without jitter so waits can be asserted exactly
RETRY = RetryPolicy(attempts=4, base=1.0, cap=30.0, jitter=0.0)


class Served:
    """A running simulator, its control handle and a factory of connectors for it."""

    def __init__(self, served: ServedApp, settings: dict[str, Any], control: AcronisSimulator, clock: FakeClock):
        self.served = served
        self.url = served.url
        self.base_settings = settings
        self.control = control
        self.clock = clock

    def connector(self, **overrides: Any) -> AcronisConnector:
        settings = AcronisSettings(**{**self.base_settings, "page_size": 3, **overrides})
        return AcronisConnector(settings, ConnectorContext(clock=self.clock, retry=RETRY))


def ctx(step: str = "step") -> ActionContext:
    return ActionContext(run_id="run", step_id=step, documents_root=Path("."), state=MemoryKeyValueStore())


@pytest.fixture
def simulator(clock: FakeClock) -> Iterator[Callable[..., Served]]:
    """``simulator(size=..., **options)`` serves a fresh Acronis simulator on loopback."""
    running: list[ServedApp] = []

    def start(**options: Any) -> Served:
        options.setdefault("size", 7)
        options.setdefault("seed", 3)
        options.setdefault("clock", clock)
        sandbox = AcronisConnector.sandbox(**options)
        served = serve_app(sandbox.app)
        running.append(served)
        return Served(served, sandbox.settings(served.url), sandbox.control, clock)

    yield start
    for served in running:
        served.stop()


@pytest.fixture
def sim(simulator: Callable[..., Served]) -> Served:
    return simulator()


@pytest.fixture
def sandboxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    """Serve the simulators named by the test's ``sandboxes`` marker and point HUB_* at them."""
    marker = request.node.get_closest_marker("sandboxes")
    options: dict[str, dict[str, Any]] = marker.kwargs if marker else {"acronis": {"size": 7, "seed": 3}}
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in options}, options) as served:
        for key, value in served.env.items():
            monkeypatch.setenv(key, value)
        yield served
