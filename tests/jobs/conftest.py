"""Simulators served on loopback for the job tests, and helpers to arrange their data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet
from tests.jobs.rmm import RMMS


@pytest.fixture(params=RMMS)
def rmm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per RMM connector: ``HUB_ROLES__RMM`` names it, and the built-in
    RMM jobs run on whichever connector fills the RMM role."""
    name = str(request.param)
    monkeypatch.setenv("HUB_ROLES__RMM", name)
    return name


@pytest.fixture
def sandboxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    """Serve the simulators named by the test's ``sandboxes`` marker, with their options
    (of the RMMs, only the one a test parametrized by ``rmm`` runs with)."""
    marker = request.node.get_closest_marker("sandboxes")
    options: dict[str, dict[str, Any]] = dict(marker.kwargs) if marker else {}
    if "rmm" in request.fixturenames:
        chosen = request.getfixturevalue("rmm")
        options = {name: o for name, o in options.items() if name not in RMMS or name == chosen}
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in options}, options) as served:
        for key, value in served.env.items():
            monkeypatch.setenv(key, value)
        yield served
        for name, sandbox in served.sandboxes.items():
            # simulators that check requests against their vendor's spec list what they refused
            refused = getattr(sandbox.control, "refused", None)
            assert not refused, f"the {name} simulator refused requests its vendor's spec does not allow: {refused}"
