"""Simulators served on loopback and the environment that points the hub at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet


@pytest.fixture
def sandboxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    """Serve the simulators named by the test's ``sandboxes`` marker, with their options."""
    marker = request.node.get_closest_marker("sandboxes")
    options: dict[str, dict] = marker.kwargs if marker else {}
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in options}, options) as sandboxes:
        for key, value in sandboxes.env.items():
            monkeypatch.setenv(key, value)
        yield sandboxes
