"""A hub with its console served in-process (Starlette's TestClient), people of each role, sign-in.

The console is mounted on the receiver's app exactly as ``hub serve`` mounts it, so
the tests see the webhook routes and the console together. Background tasks run
inline, so no test waits on a thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.app import Hub
from hub.events.receiver import create_app
from hub.events.store import EventStore
from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet
from hub.settings import load_settings
from hub.web.accounts import AccountStore
from hub.web.app import Console, mount
from hub.web.tasks import TaskRunner
from tests.web.support import PASSWORD, PEOPLE, TestClient, sign_in


@pytest.fixture
def sandboxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet | None]:
    """The simulators a test's ``sandboxes`` marker names (none without the marker)."""
    marker = request.node.get_closest_marker("sandboxes")
    if marker is None:
        yield None
        return
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in marker.kwargs}, dict(marker.kwargs)) as served:
        for key, value in served.env.items():
            monkeypatch.setenv(key, value)
        yield served


@pytest.fixture
def hub(sandboxes: SandboxSet | None) -> Iterator[Hub]:
    h = Hub(load_settings())
    accounts = AccountStore(h.store)
    for name, role in PEOPLE.items():
        accounts.add(name, role, PASSWORD, actor="user:test")
    yield h
    h.close()


@pytest.fixture
def console(hub: Hub) -> Console:
    events = EventStore(hub.store, hub.clock)
    return Console(hub, events=events, tasks=TaskRunner(inline=True), action_wait=0)


@pytest.fixture
def app(hub: Hub, console: Console) -> Any:
    receiver = create_app(hub, console.events)
    mount(receiver, console)
    return receiver


@pytest.fixture
def viewer(app: Any) -> tuple[TestClient, str]:
    return sign_in(app, "vera")


@pytest.fixture
def operator(app: Any) -> tuple[TestClient, str]:
    return sign_in(app, "otto")


@pytest.fixture
def admin(app: Any) -> tuple[TestClient, str]:
    return sign_in(app, "ada")
