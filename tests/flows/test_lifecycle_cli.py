"""``hub lifecycle run [--dry-run] [--json]`` against the Autotask simulator, through the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.app import Hub
from hub.cli import main
from hub.sandbox import SandboxSet

pytestmark = pytest.mark.sandboxes(autotask={"size": 2})

STATUS = {"New": 1, "Complete": 5, "In Progress": 8, "Ticket Reopened": 18, "Assigned": 20, "Feedback Received": 23}
COMPANY = 174


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["lifecycle", "run", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def status(sandboxes: SandboxSet, ticket: str) -> int:
    return int(sandboxes.sandboxes["autotask"].extra["simulator"].tables["Tickets"].records[int(ticket)]["status"])


def ticket(hub: Hub, title: str, label: str, **extra: Any) -> str:
    payload = {"companyID": COMPANY, "title": title, "status": STATUS[label], "priority": 2, **extra}
    return str(hub.connector("autotask").create("Tickets", payload).id)


def test_the_rules_run_once_and_a_dry_run_changes_nothing(
    hub: Hub, sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    simulator = sandboxes.sandboxes["autotask"].extra["simulator"]
    assigned = ticket(hub, "Printer offline", "New", assignedResourceID=29682887, assignedResourceRoleID=29682833)
    done = ticket(hub, "Backup failed", "Complete")
    working = ticket(hub, "VPN drops", "In Progress")
    simulator.contact_note(int(done), "It failed again last night")  # a note on a completed ticket

    code, plan = cli(capsys, "--dry-run")
    assert code == 0 and plan["dry_run"] is True and plan["psa"] == "autotask"
    planned = {c["ticket_id"]: (c["rule"], c["after"]) for c in plan["changes"]}
    assert planned[assigned] == ("assigned", "Assigned") and planned[done] == ("reopen", "Ticket Reopened")
    assert (status(sandboxes, assigned), status(sandboxes, done)) == (STATUS["New"], STATUS["Complete"])

    code, result = cli(capsys)
    assert code == 0 and result["changed"] == len(plan["changes"])
    assert status(sandboxes, assigned) == STATUS["Assigned"] and status(sandboxes, done) == STATUS["Ticket Reopened"]
    code, again = cli(capsys)
    assert (code, again["changed"]) == (0, 0)

    simulator.contact_note(int(working), "Still dropping every hour")  # the customer answers an open ticket
    code, result = cli(capsys)
    assert [(c["ticket_id"], c["after"]) for c in result["changes"]] == [(working, "Feedback Received")]
    assert status(sandboxes, working) == STATUS["Feedback Received"]


def test_bad_lifecycle_settings_are_one_line_and_exit_2(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_LIFECYCLE__HOLIDAY_COUNTRY", "XX")
    capsys.readouterr()
    assert main(["lifecycle", "run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hub: HUB_LIFECYCLE") and "Country XX not available" in err and err.count("\n") == 1
