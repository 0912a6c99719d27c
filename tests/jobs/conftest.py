"""Simulators served on loopback for the job tests, and helpers to arrange their data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet


@pytest.fixture
def sandboxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    """Serve the simulators named by the test's ``sandboxes`` marker, with their options."""
    marker = request.node.get_closest_marker("sandboxes")
    options: dict[str, dict[str, Any]] = marker.kwargs if marker else {}
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in options}, options) as served:
        for key, value in served.env.items():
            monkeypatch.setenv(key, value)
        yield served
