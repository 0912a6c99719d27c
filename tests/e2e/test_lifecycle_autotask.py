"""The co-managed help desk's ticket rules against the Autotask simulator (on a fake clock).

The rules are vendor-neutral; this runs them through the generic connector port and
the Autotask connector's own mapping, as `hub serve` does with the defaults.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.app import Hub
from hub.clock import FakeClock
from hub.events.lifecycle import LifecycleRules
from hub.events.psa import ConnectorTicketPort
from hub.models import Ticket
from hub.sandbox import SandboxSet
from hub.settings import LifecycleSettings, load_settings

pytestmark = pytest.mark.sandboxes(autotask={"size": 5, "seed": 3})


def status_of(hub: Hub, ticket_id: str) -> str | None:
    mapping = hub.mapping("autotask").entity("Tickets")
    return mapping.to_core(hub.connector("autotask").get("Tickets", ticket_id), hub.connector("autotask")).status


def set_status(hub: Hub, ticket_id: str, label: str) -> None:
    mapping = hub.mapping("autotask").entity("Tickets")
    connector = hub.connector("autotask")
    connector.update("Tickets", ticket_id, mapping.to_vendor(Ticket.model_construct(status=label), connector,
                                                             fields=["status"]))  # fmt: skip


def test_waiting_customer_and_auto_complete_move_on_time_once(sandboxes: SandboxSet) -> None:
    clock = FakeClock(datetime.now(UTC))
    settings = LifecycleSettings(enabled=True)
    with Hub(load_settings(), clock=clock) as hub:
        port = ConnectorTicketPort(hub.connector("autotask"), hub.mapping("autotask").entity("Tickets"), "Tickets")
        rules = LifecycleRules(port, hub.store, settings, clock)
        waiting, auto = "7000", "7001"
        set_status(hub, waiting, "Waiting Customer")
        set_status(hub, auto, "Auto-Complete in 2 Days")
        assert rules.run() == []  # just entered their statuses

        clock.advance(timedelta(days=3).total_seconds())
        changes = rules.run()
        assert [(c.ticket_id, c.rule) for c in changes] == [(auto, "auto_complete")]
        assert status_of(hub, auto) == "Complete"
        assert status_of(hub, waiting) == "Waiting Customer"  # 3 calendar days are not 8 business days

        clock.advance(timedelta(days=10).total_seconds())
        changes = rules.run()
        assert [(c.ticket_id, c.rule) for c in changes] == [(waiting, "no_response")]
        assert status_of(hub, waiting) == "Client No Response"

        assert rules.run() == []  # each change is made once
        audited = [r for r in hub.store.audit_rows() if r["system"] == "autotask"]
        assert len(audited) == 2
