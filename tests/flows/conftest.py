"""The simulators of the built-in workflows, served on loopback, and a hub pointed at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.app import Hub
from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet
from hub.workflow import WorkflowEngine

from .support import make_hub

#: simulator options per connector, small so each test starts them quickly
SIMULATORS: dict[str, dict] = {
    "autotask": {"size": 12, "seed": 5},
    "docusign": {"size": 3, "seed": 5},
    "itglue": {"size": 0, "seed": 5},
}


@pytest.fixture
def sandboxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    """Every simulator a test's ``sandboxes`` marker names (default: autotask and docusign)."""
    marker = request.node.get_closest_marker("sandboxes")
    names = list(marker.kwargs) if marker else ["autotask", "docusign"]
    options = {name: {**SIMULATORS.get(name, {}), **(marker.kwargs[name] if marker else {})} for name in names}
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in names}, options) as served:
        for key, value in served.env.items():
            monkeypatch.setenv(key, value)
        yield served


@pytest.fixture
def hub(sandboxes: SandboxSet) -> Iterator[Hub]:
    h = make_hub()
    yield h
    h.close()


@pytest.fixture
def engine(hub: Hub) -> WorkflowEngine:
    return WorkflowEngine(hub)


@pytest.fixture
def documents_root(tmp_path: Path) -> Path:
    return tmp_path / "client-folders"
