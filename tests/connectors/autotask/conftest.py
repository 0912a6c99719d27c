"""Fixtures for the Autotask connector tests: vendor-spec payloads, the simulator, connectors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.autotask import AutotaskConnector, AutotaskSettings
from hub.sandbox import ServedApp
from hub.sdk import ConnectorContext, FakeClock, MemoryKeyValueStore, RetryPolicy, Sandbox
from tests.conftest import vendor_specs

SPECS = vendor_specs() / "autotask"

ROOT = "https://webservices.autotask.net/atservicesrest/"
ZONE = "https://webservices5.autotask.net/atservicesrest/"


def example(name: str) -> Any:
    """A vendor-spec example payload (the ``body``/``payload`` of SHAPE/SYNTHETIC files)."""
    data = json.loads((SPECS / "examples" / name).read_text())
    for key in ("body", "payload"):
        if isinstance(data, dict) and "_note" in data and key in data:
            return data[key]
    return data


@pytest.fixture(scope="session")
def swagger() -> dict[str, Any]:
    return json.loads((SPECS / "autotask-rest-v1.swagger.json").read_text())


def make_settings(**overrides: Any) -> AutotaskSettings:
    values: dict[str, Any] = {
        "username": "api-user@msp.example.com",
        "secret": "s3cr3t-value",
        "integration_code": "INTEGRATION-CODE-1",
        "api_root": ROOT,
        "webhook_secret": "hook-key",
    }
    values.update(overrides)
    return AutotaskSettings(**values)


def make_connector(settings: AutotaskSettings, **context: Any) -> AutotaskConnector:
    context.setdefault("clock", FakeClock())
    context.setdefault("state", MemoryKeyValueStore())
    context.setdefault("retry", RetryPolicy(attempts=4, base=0.5, cap=5.0))
    return AutotaskConnector(settings, ConnectorContext(**context))


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., tuple[Sandbox, str]]]:
    """Serve a fresh simulator (options as for ``AutotaskConnector.sandbox``); yields (sandbox, url)."""
    served: list[ServedApp] = []

    def start(**options: Any) -> tuple[Sandbox, str]:
        options.setdefault("size", 12)
        sandbox = AutotaskConnector.sandbox(**options)
        app = ServedApp(sandbox.app).start()
        served.append(app)
        return sandbox, app.url

    yield start
    for app in served:
        app.stop()


@pytest.fixture
def sim(sandbox_factory: Callable[..., tuple[Sandbox, str]]) -> tuple[Sandbox, str]:
    return sandbox_factory()


@pytest.fixture
def connector(sim: tuple[Sandbox, str]) -> AutotaskConnector:
    sandbox, url = sim
    return make_connector(AutotaskSettings(**sandbox.settings(url)))
