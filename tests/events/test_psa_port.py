"""The generic PSA port: a connector's ticket stream, get and update, through its mapping file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.clock import FakeClock
from hub.errors import ConfigError, NotFoundError
from hub.events.lifecycle import LifecycleRules
from hub.events.psa import ConnectorTicketPort
from hub.events.runtime import Runtime, build_lifecycle
from hub.mapping import load_mapping
from hub.plugins import HubPlugins
from hub.sdk import CheckResult, Connector, ConnectorSettings, Page, Stream, WriteResult, hookimpl
from hub.settings import LifecycleSettings
from tests.events.conftest import make_hub
from tests.events.fakes import vendor_specs

TICKETS = json.loads((vendor_specs() / "autotask/examples/tickets_query_response.json").read_text())["items"]
STATUS = {"5": "Complete", "7": "Waiting Customer", "10": "Scheduled", "21": "Client No Response"}

MAPPING = """\
connector: psa
entities:
  Tickets:
    kind: ticket
    fields:
      title: {vendor: title}
      status: {vendor: status, picklist: true}
      completed_at: {vendor: completedDate, direction: read}
      last_activity_at: {vendor: lastActivityDate, direction: read}
      last_activity_by: {vendor: lastActivityPersonType, direction: read, values: {"1": staff, "2": customer}}
      assigned_to: {vendor: assignedResourceID, transform: [str], direction: read}
"""


class TicketStream(Stream):
    name = "tickets"
    kind = "ticket"
    entity = "Tickets"
    cursor_field = "lastActivityDate"

    def read(self, since: datetime | None = None, resume: dict[str, Any] | None = None) -> Iterator[Page]:
        rows = self.connector.rows  # type: ignore[attr-defined]
        yield Page([r for r in rows.values() if since is None or self.cursor_value(r) >= since])


class FakePsaConnector(Connector):
    """Autotask-shaped records from the vendor-spec example, picklist values by label."""

    name = "psa"
    settings_model = ConnectorSettings
    stream_classes = [TicketStream]
    writable = {"Tickets": "ticket"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = {str(r["id"]): dict(r) for r in TICKETS}
        self.updates: list[tuple[str, str, dict[str, Any]]] = []

    def check(self) -> CheckResult:
        return CheckResult(True)

    def get(self, entity: str, id: str) -> dict[str, Any]:
        if id not in self.rows:
            raise NotFoundError("no such ticket", connector=self.name, status=404)
        return self.rows[id]

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        self.updates.append((entity, id, changes))
        self.rows[id].update(changes)
        return WriteResult(id)

    def picklist_label(self, entity: str, field: str, value: Any) -> str | None:
        return STATUS.get(str(value)) if field == "status" else value

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        return int(next(v for v, lab in STATUS.items() if lab == label))


class PsaPlugin:
    @hookimpl
    def hub_register_connectors(self, registry: Any) -> None:
        registry.add(FakePsaConnector)


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "psa.yaml").write_text(MAPPING)
    return folder


def test_port_reads_tickets_with_labels_and_customer_activity(mappings):
    connector = FakePsaConnector(ConnectorSettings())
    connector.rows["100"].update(status=7, lastActivityPersonType=2)
    port = ConnectorTicketPort(connector, load_mapping("psa", [mappings]).entity("Tickets"), "tickets")
    (activity,) = list(port.changed_tickets(None))
    assert activity.id == "100"
    assert activity.ticket.status == "Waiting Customer"
    assert activity.last_customer_activity == datetime(2019, 9, 23, 11, 0, tzinfo=UTC)
    assert activity.changed_at == datetime(2019, 9, 23, 11, 0, tzinfo=UTC)
    assert list(port.changed_tickets(datetime(2020, 1, 1, tzinfo=UTC))) == []
    assert activity.assigned  # the example ticket has a resource assigned
    connector.rows["100"]["lastActivityPersonType"] = 1  # a resource acted last: no customer activity
    connector.rows["100"]["assignedResourceID"] = None
    assert port.ticket("100").last_customer_activity is None
    assert not port.ticket("100").assigned
    assert port.ticket("999") is None


def test_port_writes_only_the_status_as_the_vendor_value(mappings):
    connector = FakePsaConnector(ConnectorSettings())
    port = ConnectorTicketPort(connector, load_mapping("psa", [mappings]).entity("Tickets"), "tickets")
    port.set_status("100", "Client No Response")
    assert connector.updates == [("Tickets", "100", {"status": 21})]


def test_rules_over_the_port_close_a_silent_ticket(tmp_path, mappings):
    clock = FakeClock(datetime(2019, 9, 23, 12, 0, tzinfo=UTC))
    plugins = HubPlugins(entry_points_group=None)
    plugins.register(PsaPlugin(), "psa")
    settings = {"enabled": True, "psa": {"connector": "psa", "stream": "tickets", "entity": "Tickets"}}
    hub = make_hub(tmp_path, clock, plugins, mappings_dir=str(mappings), lifecycle=settings)
    rules = build_lifecycle(hub)
    assert isinstance(rules, LifecycleRules)
    connector = hub.connector("psa")
    connector.rows["100"]["status"] = 7
    assert rules.run() == []
    clock.advance(86400 * 14)
    (change,) = rules.run()
    assert (change.ticket_id, change.after) == ("100", "Client No Response")
    assert connector.updates == [("Tickets", "100", {"status": 21})]
    runtime = Runtime(hub, workflow=None, sync=None)
    assert runtime.lifecycle is not None
    assert "ticket-lifecycle" in [s.name for s in runtime.schedule_specs()]
    hub.close()


def test_port_refuses_an_entity_that_is_not_tickets(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "psa.yaml").write_text(
        "connector: psa\nentities:\n  Companies:\n"
        "    kind: organization\n    fields:\n      name: {vendor: companyName}\n"
    )
    with pytest.raises(ConfigError, match="not ticket"):
        ConnectorTicketPort(
            FakePsaConnector(ConnectorSettings()),
            load_mapping("psa", [folder]).entity("Companies"),
            "tickets",
        )


def test_lifecycle_off_builds_nothing(hub):
    assert build_lifecycle(hub) is None
    assert LifecycleSettings().enabled is False
