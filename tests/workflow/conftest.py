"""Fixtures: a hub on a temporary SQLite store with the fake connectors and a fake clock."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.clock import FakeClock
from hub.plugins import HubPlugins
from hub.settings import HubSettings

HERE = Path(__file__).parent
DATA = HERE / "data"


def _load_fakes() -> Any:
    # Tests run with --import-mode=importlib: load the helper module by path, once.
    if "workflow_fakes" not in sys.modules:
        spec = importlib.util.spec_from_file_location("workflow_fakes", HERE / "fakes.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["workflow_fakes"] = module
        spec.loader.exec_module(module)
    return sys.modules["workflow_fakes"]


fakes = _load_fakes()


@pytest.fixture
def world(tmp_path: Path) -> Any:
    w = fakes.World(tmp_path / "vendor.json")
    fakes.FakePsa.world = w
    fakes.FakeSign.world = w
    return w


@pytest.fixture
def settings(tmp_path: Path) -> HubSettings:
    maps = tmp_path / "mappings"
    maps.mkdir()
    (maps / "fakepsa.yaml").write_text(fakes.MAPPING)
    user = tmp_path / "user-workflows"
    user.mkdir()
    return HubSettings(
        state_url=f"sqlite:///{tmp_path / 'state.sqlite'}",
        documents_root=tmp_path / "client-folders",
        mappings_dir=maps,
        workflows_dir=user,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_plugins(shipped: list[Path] | None = None) -> HubPlugins:
    plugins = HubPlugins(entry_points_group=None)
    info = plugins.register(fakes.FakePlugin([DATA] if shipped is None else shipped), "fakes")
    assert info.error is None, info.error
    return plugins


@pytest.fixture
def hub(settings: HubSettings, clock: FakeClock, world: Any) -> Iterator[Hub]:
    h = Hub(settings, plugins=make_plugins(), clock=clock)
    yield h
    h.close()


@pytest.fixture
def engine(hub: Hub) -> Any:
    from hub.workflow import WorkflowEngine

    return WorkflowEngine(hub)


ONBOARD = {
    "name": "Acme Dental",
    "email": "owner@acme.example",
    "postal_code": "10001",
    "os": "Windows 11",
}
