"""`new-breakfix-customer` under the write faults real vendors produce: exactly one of everything.

Every create the procedure makes (the company, its contact, the intake note, the ticket,
its notes, the terms envelope) is applied by the simulator and its answer lost: sent
after the client's one-second timeout, the connection dropped before the body, or a
gateway's 502. The run must still end with exactly one of each (``check_outcome``).
"""

from __future__ import annotations

import pytest

from hub.app import Hub
from hub.sandbox import SandboxSet
from hub.settings import load_settings
from hub.workflow import WorkflowEngine

from .support import drive
from .test_breakfix import ANSWERS, INPUTS, check_outcome

CREATES = {
    "autotask": [
        r"/V1.0/Companies$",
        r"/V1.0/Companies/\d+/Contacts$",
        r"/V1.0/Companies/\d+/Notes$",
        r"/V1.0/Tickets$",
        r"/V1.0/Tickets/\d+/Notes$",
        r"/V1.0/ServiceCalls$",
    ],
    "docusign": [r"/envelopes$"],
}


@pytest.mark.parametrize("kind", ["late", "drop", "502"])
def test_every_create_answered_too_late_or_lost_is_made_once(
    sandboxes: SandboxSet, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv("HUB_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("HUB_TIMEZONE", "America/New_York")  # as check_outcome's times are
    for connector, paths in CREATES.items():
        for path in paths:
            sandboxes.faults[connector].after_write(kind, path=path, times=2, delay=2.0)
    with Hub(load_settings()) as hub:
        engine = WorkflowEngine(hub)
        run_id = engine.start("new-breakfix-customer", INPUTS)
        drive(engine, run_id, ANSWERS, docusign=sandboxes.control("docusign"))
        check_outcome(engine, run_id, sandboxes)
    fired = {path for _, _, path in sandboxes.faults["autotask"].injected + sandboxes.faults["docusign"].injected}
    assert len(fired) >= 6, f"a fault fired on every kind of create: {sorted(fired)}"
