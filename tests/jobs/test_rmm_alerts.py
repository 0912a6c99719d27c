"""`hub sync rmm-alerts` against the Autotask simulator and each RMM's: one ticket per problem.

Each test runs once per RMM (N-central, Datto RMM, NinjaOne: the ``rmm`` fixture) with the same
assertions. It links the RMM's customers and devices first (`hub sync rmm-devices`),
then raises, repeats and clears alerts on the RMM's simulator between polls (in neutral
terms, :mod:`tests.jobs.rmm`) and checks the tickets the Autotask simulator holds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.autotask.connector import AutotaskConnector
from connectors.autotask.sim_data import SCHEMAS
from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli
from tests.jobs.helpers import add_company, audit_rows, autotask_sim, sync
from tests.jobs.rmm import RmmSim, rmm_sim

pytestmark = pytest.mark.sandboxes(
    autotask={"size": 4, "seed": 3},
    ncentral={"size": 24, "seed": 2, "alerts": 0},
    dattormm={"size": 24, "seed": 2, "alerts": 0},
    ninjaone={"size": 24, "seed": 2, "alerts": 0},
)

STATUS = {label: code for code, label in SCHEMAS["Tickets"].picklists["status"].items()}
PRIORITY = {label: code for code, label in SCHEMAS["Tickets"].picklists["priority"].items()}
QUEUE = {label: code for code, label in SCHEMAS["Tickets"].picklists["queueID"].items()}


def link(sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], src: RmmSim, customers: int = 2) -> dict[Any, int]:
    """Autotask companies named like the first ``customers`` RMM customers, then rmm-devices."""
    sim = autotask_sim(sandboxes)
    companies = {c: add_company(sim, src.customer_name(c)) for c in src.customers[:customers]}
    code, summary = sync(capsys, "rmm-devices")
    assert code == 0, summary
    return companies


def alert_tickets(sim: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in sim.tables["Tickets"].records.values():
        if record.get("externalID"):
            out[record["externalID"]].append(record)
    return dict(out)


def notes(sim: Any, ticket: int) -> list[str]:
    return [n["description"] for n in sim.tables["TicketNotes"].records.values() if n["ticketID"] == ticket]


def poll(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, summary = sync(capsys, "rmm-alerts", *args)
    assert code == 0 and summary["status"] == "ok", summary
    return summary


def test_alerts_appear_repeat_escalate_clear_and_return_with_one_ticket_per_problem(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], rmm: str
) -> None:
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    key = src.key
    companies = link(sandboxes, capsys, src)
    acme = src.customers[0]
    d0, d1, d2 = src.devices_of(acme)[:3]
    disk = src.raise_alert(d0, "Disk Space", "C:", "critical")
    cpu = src.raise_alert(d1, "CPU", "", "warning")
    src.raise_alert(d2, "Memory", "", "information")  # information: below the default minimum severity

    first = poll(capsys)
    assert (first["read"], first["created"], first["skipped"]) == (3, 2, 1)
    tickets = alert_tickets(sim)
    assert set(tickets) == {key(d0, "Disk Space", "C:"), key(d1, "CPU")}
    disk_ticket = tickets[key(d0, "Disk Space", "C:")][0]
    items = {r["referenceTitle"]: r["id"] for r in sim.tables["ConfigurationItems"].records.values()}
    assert disk_ticket["companyID"] == companies[acme]
    assert disk_ticket["configurationItemID"] == items[src.device_name(d0)]
    assert (disk_ticket["status"], disk_ticket["priority"], disk_ticket["queueID"]) == (
        STATUS["New"], PRIORITY["Critical"], QUEUE["Monitoring Alert"])  # fmt: skip
    assert tickets[key(d1, "CPU")][0]["priority"] == PRIORITY["Medium"]

    # polling again, after the RMM forgot its tokens and notified the problem again: nothing new
    src.restart()
    src.repeat_alert(disk)
    again = poll(capsys)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)

    # an escalation notes the ticket and raises the priority nobody has touched
    src.repeat_alert(cpu, "critical")
    escalated = poll(capsys)
    assert (escalated["created"], escalated["updated"]) == (0, 1)
    cpu_ticket = sim.get("Tickets", tickets[key(d1, "CPU")][0]["id"])
    assert cpu_ticket["priority"] == PRIORITY["Critical"]
    assert any("as critical" in n for n in notes(sim, cpu_ticket["id"]))

    # the disk alert clears: its untouched ticket is auto-resolved
    src.clear_alert(disk)
    cleared = poll(capsys)
    assert (cleared["created"], cleared["updated"], cleared["unchanged"]) == (0, 1, 1)
    assert sim.get("Tickets", disk_ticket["id"])["status"] == STATUS["Auto-Resolved"]
    assert any("no longer reports" in n for n in notes(sim, disk_ticket["id"]))

    # it returns within the reopen window: the same ticket is reopened, none is added
    src.raise_alert(d0, "Disk Space", "C:", "critical")
    returned = poll(capsys)
    assert returned["created"] == 0 and returned["updated"] == 1
    assert sim.get("Tickets", disk_ticket["id"])["status"] == STATUS["Ticket Reopened"]
    assert any("again" in n for n in notes(sim, disk_ticket["id"]))

    # and clears again: the hub set "Ticket Reopened" itself, so it may auto-resolve again
    src.clear_alert(disk)
    poll(capsys)
    assert sim.get("Tickets", disk_ticket["id"])["status"] == STATUS["Auto-Resolved"]
    assert {k: len(v) for k, v in alert_tickets(sim).items()} == {key(d0, "Disk Space", "C:"): 1, key(d1, "CPU"): 1}

    audit_ops = {(r["entity"], r["operation"]) for r in audit_rows("rmm-alerts")}
    assert audit_ops == {("Tickets", "create"), ("Tickets", "update"), ("TicketNotes", "create")}


def test_a_ticket_a_person_worked_gets_only_a_note_when_its_alert_clears(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], rmm: str
) -> None:
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    key = src.key
    link(sandboxes, capsys, src)
    d0, d1, d2 = src.devices_of(src.customers[0])[:3]
    assigned = src.raise_alert(d0, "Backup Status", "", "critical")
    moved = src.raise_alert(d1, "Agent Status", "", "critical")
    untouched = src.raise_alert(d2, "Patch Status", "", "warning")
    poll(capsys)
    tickets = {k: v[0]["id"] for k, v in alert_tickets(sim).items()}
    # one is assigned to a technician (status still "New"), one moved to "In Progress"
    sim.write("Tickets", {"id": tickets[key(d0, "Backup Status")], "assignedResourceID": 4}, create=False, actor=4)
    sim.write("Tickets", {"id": tickets[key(d1, "Agent Status")], "status": STATUS["In Progress"]}, create=False,
              actor=4)  # fmt: skip
    for task in (assigned, moved, untouched):
        src.clear_alert(task)
    summary = poll(capsys)
    assert summary["updated"] == 3
    assert sim.get("Tickets", tickets[key(d0, "Backup Status")])["status"] == STATUS["New"]
    assert sim.get("Tickets", tickets[key(d1, "Agent Status")])["status"] == STATUS["In Progress"]
    assert sim.get("Tickets", tickets[key(d2, "Patch Status")])["status"] == STATUS["Auto-Resolved"]
    for worked in (key(d0, "Backup Status"), key(d1, "Agent Status")):
        assert any("someone worked it" in n for n in notes(sim, tickets[worked]))

    # the worked ticket's alert returns within the window: a note on the same ticket, no reopen
    src.raise_alert(d1, "Agent Status", "", "critical")
    summary = poll(capsys)
    assert (summary["created"], summary["updated"]) == (0, 1)
    assert sim.get("Tickets", tickets[key(d1, "Agent Status")])["status"] == STATUS["In Progress"]
    assert sum("again" in n for n in notes(sim, tickets[key(d1, "Agent Status")])) == 1


def test_a_problem_returning_after_the_reopen_window_gets_a_new_ticket(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, rmm: str
) -> None:
    monkeypatch.setenv("HUB_RMM_ALERTS__REOPEN_WINDOW_MINUTES", "0")
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    key = src.key
    link(sandboxes, capsys, src)
    d0 = src.devices_of(src.customers[0])[0]
    task = src.raise_alert(d0, "Windows Service", "Spooler", "critical")
    poll(capsys)
    src.clear_alert(task)
    poll(capsys)
    src.raise_alert(d0, "Windows Service", "Spooler", "critical")
    summary = poll(capsys)
    assert summary["created"] == 1
    old, new = sorted(alert_tickets(sim)[key(d0, "Windows Service", "Spooler")], key=lambda r: r["id"])
    assert (old["status"], new["status"]) == (STATUS["Auto-Resolved"], STATUS["New"])
    assert poll(capsys)["created"] == 0


@pytest.mark.parametrize("window", ["1440", "0"])
def test_a_problem_returning_on_a_ticket_a_person_completed_reopens_it(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, window: str, rmm: str
) -> None:
    """Co-managed procedure: a note the RMM adds to a completed ticket sets "Ticket Reopened",
    however long after (the window only governs tickets the hub auto-resolved itself)."""
    monkeypatch.setenv("HUB_RMM_ALERTS__REOPEN_WINDOW_MINUTES", window)
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    link(sandboxes, capsys, src)
    d0, d1 = src.devices_of(src.customers[0])[:2]
    completed = src.raise_alert(d0, "Disk Space", "C:", "critical")
    working = src.raise_alert(d1, "CPU", "", "critical")
    poll(capsys)
    tickets = {k: v[0]["id"] for k, v in alert_tickets(sim).items()}
    done, busy = tickets[src.key(d0, "Disk Space", "C:")], tickets[src.key(d1, "CPU")]
    sim.write("Tickets", {"id": done, "assignedResourceID": 4, "status": STATUS["Complete"]}, create=False, actor=4)
    sim.write("Tickets", {"id": busy, "assignedResourceID": 4, "status": STATUS["In Progress"]}, create=False, actor=4)
    src.clear_alert(completed)
    src.clear_alert(working)
    poll(capsys)
    src.raise_alert(d0, "Disk Space", "C:", "critical")
    src.raise_alert(d1, "CPU", "", "critical")
    summary = poll(capsys)
    assert (summary["created"], summary["updated"]) == (0, 2)  # the same tickets, no new ones
    assert sim.get("Tickets", done)["status"] == STATUS["Ticket Reopened"]
    assert any("The ticket was completed: set to 'Ticket Reopened'" in n for n in notes(sim, done))
    assert sim.get("Tickets", busy)["status"] == STATUS["In Progress"]  # a person is on it: a note only
    assert sum("again" in n for n in notes(sim, busy)) == 1
    assert poll(capsys)["updated"] == 0


def test_a_crash_between_creating_a_ticket_and_recording_it_opens_no_second_ticket(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, rmm: str
) -> None:
    """The crash lands right after Autotask accepted the ticket, before the hub recorded it;
    the second occurrence (after the window) must not adopt the first occurrence's ticket."""
    monkeypatch.setenv("HUB_RMM_ALERTS__REOPEN_WINDOW_MINUTES", "0")
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    key = src.key
    link(sandboxes, capsys, src)
    d0 = src.devices_of(src.customers[0])[0]
    original = AutotaskConnector.create

    def create_then_die(self: AutotaskConnector, entity: str, payload: dict[str, Any], **kw: Any) -> Any:
        result = original(self, entity, payload, **kw)
        if entity == "Tickets":
            raise KeyboardInterrupt("killed between the create and the record")
        return result

    for occurrence in (1, 2):
        task = src.raise_alert(d0, "Disk Space", "D:", "critical")
        with monkeypatch.context() as patch:
            patch.setattr(AutotaskConnector, "create", create_then_die)
            code, _, _ = run_cli(["sync", "rmm-alerts", "--json"], capsys)
        assert code == 130
        assert len(alert_tickets(sim)[key(d0, "Disk Space", "D:")]) == occurrence
        recovered = poll(capsys)
        assert recovered["created"] == 1, "the interrupted run's ticket is adopted, not created again"
        assert len(alert_tickets(sim)[key(d0, "Disk Space", "D:")]) == occurrence
        src.clear_alert(task)
        poll(capsys)
    assert all(t["status"] == STATUS["Auto-Resolved"] for t in alert_tickets(sim)[key(d0, "Disk Space", "D:")])


def test_noise_rules_open_no_ticket(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, rmm: str
) -> None:
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    key = src.key
    link(sandboxes, capsys, src)
    acme, globex = src.customers
    a0, a1, a2, a3 = src.devices_of(acme)[:4]
    g0 = src.devices_of(globex)[0]
    now = datetime.now(UTC)
    windows = [
        {"name": "patching", "start": (now - timedelta(hours=1)).isoformat(),
         "end": (now + timedelta(hours=1)).isoformat(), "devices": [str(a1)]},
        {"name": "nightly", "cron": "* * * * *", "minutes": 5, "devices": [src.device_name(a2).lower()]},
        {"name": "last year", "start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
    ]  # fmt: skip
    monkeypatch.setenv("HUB_RMM_ALERTS__MINIMUM_SEVERITY", "critical")
    monkeypatch.setenv("HUB_RMM_ALERTS__EXCLUDE_DEVICES", f"{src.device_name(a3)},999")
    monkeypatch.setenv("HUB_RMM_ALERTS__EXCLUDE_CUSTOMERS", src.customer_name(globex).upper())
    monkeypatch.setenv("HUB_RMM_ALERTS__MAINTENANCE_WINDOWS", json.dumps(windows))
    src.raise_alert(a0, "CPU", "", "warning")  # below the minimum
    src.raise_alert(a1, "CPU", "", "critical")  # in a one-off window
    src.raise_alert(a2, "CPU", "", "critical")  # in a recurring window
    src.raise_alert(a3, "CPU", "", "critical")  # device excluded by name
    src.raise_alert(g0, "CPU", "", "critical")  # customer excluded by name
    src.raise_alert(a0, "Memory", "", "critical")  # opens a ticket
    summary = poll(capsys)
    assert (summary["created"], summary["skipped"]) == (1, 5)
    assert set(alert_tickets(sim)) == {key(a0, "Memory")}

    code, plan = sync(capsys, "rmm-alerts", "--dry-run")
    assert code == 0
    reasons = sorted(e["reason"] for e in plan["plan"] if e["action"] == "skip")
    assert reasons == sorted([
        "severity warning is below the minimum critical", "maintenance window 'patching'",
        "maintenance window 'nightly'", "the device is excluded", "the customer is excluded",
    ])  # fmt: skip

    # the rules only keep tickets from opening: with them lifted the same alerts open tickets
    for name in ("MINIMUM_SEVERITY", "EXCLUDE_DEVICES", "EXCLUDE_CUSTOMERS", "MAINTENANCE_WINDOWS"):
        monkeypatch.delenv(f"HUB_RMM_ALERTS__{name}")
    assert poll(capsys)["created"] == 5  # the warning too: it reaches the default minimum


def test_an_alert_of_an_unlinked_customer_is_dead_lettered_until_it_is_linked(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], rmm: str
) -> None:
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    key = src.key
    link(sandboxes, capsys, src, customers=1)
    globex = src.customers[1]
    g0 = src.devices_of(globex)[0]
    src.raise_alert(g0, "CPU", "", "critical")
    code, summary = sync(capsys, "rmm-alerts")
    assert (code, summary["status"], summary["failed"]) == (1, "partial", 1)
    code, out, _ = run_cli(["deadletters", "--json"], capsys)
    letters = [d for d in json.loads(out) if d["job"] == "rmm-alerts"]
    assert [d["record_id"] for d in letters] == [key(g0, "CPU")]
    assert "hub sync rmm-devices" in letters[0]["error"]
    assert alert_tickets(sim) == {}

    add_company(sim, src.customer_name(globex))
    assert sync(capsys, "rmm-devices")[0] == 0
    assert poll(capsys)["created"] == 1
    code, out, _ = run_cli(["deadletters", "--json"], capsys)
    assert [d for d in json.loads(out) if d["job"] == "rmm-alerts"] == []


def test_dry_run_plans_tickets_and_writes_nothing(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], rmm: str
) -> None:
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    key = src.key
    link(sandboxes, capsys, src)
    d0 = src.devices_of(src.customers[0])[0]
    src.raise_alert(d0, "CPU", "", "critical")
    code, plan = sync(capsys, "rmm-alerts", "--dry-run")
    assert code == 0 and plan["created"] == 1
    assert [e["action"] for e in plan["plan"]] == ["create"]
    assert plan["plan"][0]["after"]["externalID"] == key(d0, "CPU")
    assert alert_tickets(sim) == {}
    assert poll(capsys)["created"] == 1


def test_bad_rmm_alert_settings_exit_2_with_one_line(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_RMM_ALERTS__MAINTENANCE_WINDOWS", '[{"cron": "0 2 * * 0"}]')
    code, out, err = run_cli(["sync", "rmm-alerts", "--json"], capsys)
    assert code == 2
    assert json.loads(out)["error"] == "HUB_RMM_ALERTS__MAINTENANCE_WINDOWS: a recurring window needs cron and minutes"
    assert err.strip() == "hub: HUB_RMM_ALERTS__MAINTENANCE_WINDOWS: a recurring window needs cron and minutes"
