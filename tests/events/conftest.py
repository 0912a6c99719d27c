from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.clock import FakeClock
from hub.events.runtime import Runtime
from hub.plugins import HubPlugins
from hub.settings import load_settings
from hub.state.store import StateStore
from tests.events.fakes import AT_SECRET, QB_VECTOR, FakePlugin, FakeSync, FakeWorkflow


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No hub.yaml, .env or HUB_* variable of the developer's machine leaks into a test.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hub.yaml").touch()  # a HUB_CONFIG_FILE that does not exist is an error
    monkeypatch.setenv("HUB_CONFIG_FILE", str(tmp_path / "hub.yaml"))
    import os

    for key in list(os.environ):
        if key.startswith("HUB_") and key != "HUB_CONFIG_FILE":
            monkeypatch.delenv(key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def plugins() -> HubPlugins:
    plugins = HubPlugins(entry_points_group=None)
    plugins.register(FakePlugin(), "fakes")
    return plugins


@functools.cache
def _migrated_template() -> Path:
    """One migrated state store per test session, copied for each test (migrating is the slow part)."""
    folder = Path(tempfile.mkdtemp(prefix="hub-events-template-"))
    atexit.register(shutil.rmtree, folder, True)
    StateStore.open(f"sqlite:///{folder}/state.sqlite").close()
    return folder / "state.sqlite"


def make_hub(tmp_path: Path, clock: FakeClock, plugins: HubPlugins, **settings: Any) -> Hub:
    target = tmp_path / "state.sqlite"
    if not target.exists():
        shutil.copyfile(_migrated_template(), target)
    url = f"sqlite:///{target}"
    values: dict[str, Any] = {"state_url": url, "event_streams": {"autotask": {"Ticket": ["tickets"]}}}
    values.update(settings)
    core = load_settings(**values)
    return Hub(
        core,
        plugins=plugins,
        store=StateStore.open(url),
        clock=clock,
        connector_overrides={
            "quickbooks": {"webhook_verifier_token": QB_VECTOR["verifier_token"]},
            "autotask": {"webhook_secret": AT_SECRET},
        },
    )


@pytest.fixture
def hub(tmp_path: Path, clock: FakeClock, plugins: HubPlugins) -> Iterator[Hub]:
    h = make_hub(tmp_path, clock, plugins, webhook_max_bytes=4096)
    yield h
    h.close()


@pytest.fixture
def workflow() -> FakeWorkflow:
    return FakeWorkflow()


@pytest.fixture
def sync() -> FakeSync:
    return FakeSync()


@pytest.fixture
def runtime(hub: Hub, workflow: FakeWorkflow, sync: FakeSync) -> Runtime:
    return Runtime(hub, workflow=workflow, sync=sync, lifecycle=None)
