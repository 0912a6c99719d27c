"""Fixtures for the DocuSign connector tests: the served simulator and connectors bound to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.docusign import DocuSignConnector
from connectors.docusign.settings import DocuSignSettings
from connectors.docusign.sim_state import rsa_key_pair
from connectors.docusign.simulator import build_sandbox
from hub.sandbox import Sandbox, ServedApp
from hub.sdk import ActionContext, ConnectorContext, FakeClock, KeyValueStore, MemoryKeyValueStore
from hub.settings import load_connector_settings
from tests.conftest import vendor_specs

FIXTURES = vendor_specs() / "docusign" / "examples"
#: the account the respx contract tests talk to
ACCOUNT = "0cdb3ff3-0000-4000-8000-e43af011006d"


class Sim:
    """A served simulator: its control handle and URL, and connectors pointed at it."""

    def __init__(self, sandbox: Sandbox, url: str, clock: FakeClock) -> None:
        self.sandbox = sandbox
        self.url = url
        self.clock = clock
        self.control = sandbox.control

    def settings(self, **overrides: Any) -> DocuSignSettings:
        values = {**self.sandbox.settings(self.url), **overrides}
        return load_connector_settings(DocuSignSettings, "docusign", **values)

    def connector(self, state: KeyValueStore | None = None, **overrides: Any) -> DocuSignConnector:
        context = ConnectorContext(state=state or MemoryKeyValueStore(), clock=self.clock)
        return DocuSignConnector(self.settings(**overrides), context)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def serve(clock: FakeClock) -> Iterator[Callable[..., Sim]]:
    """Start a simulator with the given sandbox options; all are stopped after the test."""
    running: list[ServedApp] = []

    def start(**options: Any) -> Sim:
        sandbox = build_sandbox(**options)
        served = ServedApp(sandbox.app).start()
        running.append(served)
        return Sim(sandbox, served.url, clock)

    yield start
    for served in running:
        served.stop()


@pytest.fixture
def sim(serve: Callable[..., Sim], clock: FakeClock) -> Sim:
    return serve(size=250, clock=clock)


@pytest.fixture
def documents(tmp_path: Path) -> Path:
    root = tmp_path / "client-folders"
    root.mkdir()
    return root


@pytest.fixture
def example() -> Callable[[str], Any]:
    """Load a vendor-spec example payload from shared/vendor-specs/docusign/examples."""

    def load(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture
def make_ctx(documents: Path) -> Callable[..., ActionContext]:
    """An ActionContext for one workflow step (a fresh state store unless one is given)."""

    def make(run: str = "run-1", step: str = "send-tc", state: KeyValueStore | None = None) -> ActionContext:
        return ActionContext(run, step, documents, state if state is not None else MemoryKeyValueStore())

    return make


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_bytes(rsa_key_pair()[0])
    return path


@pytest.fixture
def settings(key_file: Path) -> DocuSignSettings:
    return DocuSignSettings(
        auth_server="account-d.docusign.com",
        account_id=ACCOUNT,
        integration_key="ik-guid",
        user_id="user-guid",
        private_key_file=key_file,
        connect_hmac_keys="k1",
        tc_template_id="tpl-guid",
    )


@pytest.fixture
def make(settings: DocuSignSettings, clock: FakeClock) -> Callable[..., DocuSignConnector]:
    def build(state: MemoryKeyValueStore | None = None, **overrides: Any) -> DocuSignConnector:
        s = settings.model_copy(update=overrides) if overrides else settings
        return DocuSignConnector(s, ConnectorContext(state=state or MemoryKeyValueStore(), clock=clock))

    return build
