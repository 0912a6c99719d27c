"""Sync runs and dead letters, events, compliance, connector checks and people, through the console."""

from __future__ import annotations

from typing import Any

import pytest

from hub.app import Hub
from hub.connector import Event
from hub.sandbox import SandboxSet
from hub.state.audit import AuditQuery, search_audit
from hub.web.accounts import AccountStore, Role
from hub.web.app import Console
from tests.web.support import PASSWORD, TestClient, client, csrf_of


def post(c: TestClient, token: str, path: str, **data: str) -> Any:
    return c.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


@pytest.mark.sandboxes(autotask={"size": 12, "seed": 11}, itglue={"size": 0, "seed": 2})
def test_run_now_dry_run_and_a_dead_letter_retried_and_discarded(
    hub: Hub, sandboxes: SandboxSet, operator: tuple[TestClient, str], viewer: tuple[TestClient, str]
) -> None:
    c, token = operator
    sim = sandboxes.control("autotask").sim
    companies = [co for co in sim.tables["Companies"].records.values() if co["isActive"]]
    first, second = companies[0], companies[1]
    names = {first["id"]: first["companyName"], second["id"]: second["companyName"]}
    first["companyName"] = second["companyName"] = "   "  # the core model refuses a blank name

    dry = post(c, token, "/sync/jobs/psa-to-docs/start", dry_run="1")
    assert dry.status_code == 303
    runs = hub.store.recent_runs("psa-to-docs")
    assert runs[0]["dry_run"] and runs[0]["status"] == "partial"
    plan = c.get(f"/sync/runs/{runs[0]['id']}").text
    assert "Plan (nothing was written)" in plan and "create" in plan

    assert post(c, token, "/sync/jobs/psa-to-docs/start").status_code == 303
    real = hub.store.recent_runs("psa-to-docs")[0]
    assert not real["dry_run"] and real["status"] == "partial"
    written = c.get(f"/sync/runs/{real['id']}").text
    assert "Changes written" in written and "itglue" in written
    page = c.get("/sync").text
    letters = {d.record_id: d for d in hub.store.dead_letters("psa-to-docs") if d.kind == "organization"}
    assert set(letters) >= {str(first["id"]), str(second["id"])}
    assert f'/sync/deadletters/{letters[str(first["id"])].id}/retry' in page
    assert "/retry" not in viewer[0].get("/sync").text  # a viewer sees no buttons ...
    refused = post(viewer[0], viewer[1], f"/sync/deadletters/{letters[str(first['id'])].id}/retry")
    assert refused.status_code == 403  # ... and the server refuses them anyway

    first["companyName"] = names[first["id"]]  # fixed at the source: the retry writes it
    retried = post(c, token, f"/sync/deadletters/{letters[str(first['id'])].id}/retry")
    assert retried.status_code == 303
    assert "written" in c.get("/sync").text  # the flash message
    left = {d.record_id for d in hub.store.dead_letters("psa-to-docs") if d.kind == "organization"}
    assert str(first["id"]) not in left and str(second["id"]) in left

    assert post(c, token, f"/sync/deadletters/{letters[str(second['id'])].id}/discard").status_code == 303
    assert str(second["id"]) not in {d.record_id for d in hub.store.dead_letters("psa-to-docs")}
    actions = {(r["operation"], r["record_id"]) for r in search_audit(hub.store, AuditQuery(actor="user:otto"))}
    assert ("deadletter.retried", str(first["id"])) in actions
    assert ("deadletter.discarded", str(second["id"])) in actions
    assert ("sync.started", "psa-to-docs") in actions


def test_a_task_fragment_shows_progress_and_the_result(console: Console, operator: tuple[TestClient, str]) -> None:
    c, _ = operator

    def work(task: Any) -> dict[str, Any]:
        task.progress["autotask Companies"] = 7
        return {"run_id": "r1", "status": "ok", "read": 7, "created": 1, "updated": 0, "unchanged": 6,
                "failed": 0, "duration_s": 0.2}  # fmt: skip

    task = console.tasks.start("sync", "psa-to-docs run", "user:otto", work)
    fragment = c.get(f"/sync/tasks/{task.id}").text
    assert "autotask Companies: 7 read" in fragment and "/sync/runs/r1" in fragment
    assert "hx-trigger" not in fragment  # finished: no more polling
    assert c.get("/sync/tasks/999").status_code == 404


def test_events_are_listed_and_retried(hub: Hub, console: Console, operator: tuple[TestClient, str]) -> None:
    c, token = operator
    intake = console.events.record("docusign", [Event(connector="docusign", type="envelope-completed", id="e1")], b"{}")
    row = intake.stored[0]
    console.events.fail(row, "boom", None)  # out of attempts: dead
    woken: list[bool] = []
    console.process_events = lambda: woken.append(True)
    page = c.get("/events", params={"status": "dead"}).text
    assert "envelope-completed" in page and f"/events/{row}/retry" in page
    assert post(c, token, f"/events/{row}/retry").status_code == 303
    assert console.events.get(row).status == "pending" and woken == [True]  # type: ignore[union-attr]
    nothing = c.post(f"/events/{row}/retry", data={"csrf_token": token}, headers={"referer": "http://testserver/events"})
    assert "nothing to retry" in nothing.text
    assert c.get("/events", params={"status": "bogus"}).status_code == 400


@pytest.mark.sandboxes(autotask={"size": 12, "seed": 3}, quickbooks={"size": 6, "seed": 3})
def test_compliance_check_and_open_tickets(hub: Hub, operator: tuple[TestClient, str]) -> None:
    c, token = operator
    assert "No check has been run" in c.get("/compliance").text
    assert post(c, token, "/compliance/check").status_code == 303
    page = c.get("/compliance").text
    assert "violation(s) over" in page and "by user:otto" in page
    assert post(c, token, "/compliance/open-tickets").status_code == 303
    page = c.get("/compliance").text
    assert "tickets opened" in page and ("(opened)" in page or "No violations" in page)
    assert "violation(s)" in c.get("/").text


@pytest.mark.sandboxes(autotask={"size": 3, "seed": 3})
def test_connector_check_is_kept_with_its_budget_use(hub: Hub, operator: tuple[TestClient, str]) -> None:
    c, token = operator
    assert post(c, token, "/connectors/autotask/check").status_code == 303
    page = c.get("/connectors").text
    assert "by user:otto" in page and "per 3600 s" in page
    assert "HUB_ITGLUE__API_KEY: required but not set" in page  # itglue has no settings here
    assert c.post("/connectors/itglue/check", data={"csrf_token": token},
                  headers={"referer": "http://testserver/connectors"}).status_code == 200  # fmt: skip


def test_admin_manages_people_and_keeps_one_admin(hub: Hub, app: Any, admin: tuple[TestClient, str]) -> None:
    c, token = admin
    assert post(c, token, "/users", name="nina", role="operator", password=PASSWORD,
                password_again=PASSWORD).status_code == 303  # fmt: skip
    accounts = AccountStore(hub.store)
    assert accounts.get("nina").role is Role.operator  # type: ignore[union-attr]
    mismatch = c.post("/users", data={"csrf_token": token, "name": "max", "role": "viewer", "password": PASSWORD,
                                      "password_again": PASSWORD + "x"}, headers={"referer": "http://testserver/users"})
    assert "the two passwords differ" in mismatch.text and accounts.get("max") is None
    assert post(c, token, "/users/nina/role", role="viewer").status_code == 303
    assert accounts.get("nina").role is Role.viewer  # type: ignore[union-attr]
    assert post(c, token, "/users/nina/password", password="a new long password",
                password_again="a new long password").status_code == 303  # fmt: skip
    assert accounts.verify("nina", "a new long password") is not None
    last = c.post("/users/ada/role", data={"csrf_token": token, "role": "viewer"},
                  headers={"referer": "http://testserver/users"})  # fmt: skip
    assert "last admin" in last.text and accounts.get("ada").role is Role.admin  # type: ignore[union-attr]
    assert post(c, token, "/users/nina/remove").status_code == 303 and accounts.get("nina") is None
    operations = [r["operation"] for r in search_audit(hub.store, AuditQuery(actor="user:ada", system="console"))]
    assert {"user.added", "user.role", "user.password", "user.removed"} <= set(operations)
    login = client(app)
    token = csrf_of(login.get("/login").text)
    assert login.post("/login", data={"username": "nina", "password": "a new long password",
                                      "csrf_token": token}).status_code == 401  # fmt: skip
