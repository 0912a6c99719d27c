"""The break/fix workflow taken from start to the signed PDF through the console's forms."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import update

from hub.app import Hub
from hub.sandbox import SandboxSet
from hub.state import tables as t
from hub.state.audit import AuditQuery, search_audit
from hub.workflow import RunStatus, WorkflowEngine
from tests.web.support import TestClient

pytestmark = pytest.mark.sandboxes(autotask={"size": 12, "seed": 5}, docusign={"size": 3, "seed": 5})

CUSTOMER = {
    "name": "Maria Garcia", "first_name": "Maria", "last_name": "Garcia", "email": "maria.garcia@example.net",
    "phone": "518-555-0199", "street": "41 Columbia Turnpike", "city": "East Greenbush", "state": "NY",
    "postal_code": "12061", "computers": "2", "servers": "0", "referral": "", "os": "Windows 11",
    "machine_age": "3", "customer": "residential", "visit": "onsite",
}  # fmt: skip


def start(c: TestClient, token: str, **changes: str) -> Any:
    return c.post("/workflows/start/new-breakfix-customer", data={**CUSTOMER, **changes, "csrf_token": token},
                  follow_redirects=False)  # fmt: skip


def run_of(answer: Any) -> str:
    assert answer.status_code == 303, answer.text
    found = re.match(r"^/workflows/runs/([0-9a-f-]{36})$", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def confirm(c: TestClient, token: str, run_id: str, step: str, **values: str) -> Any:
    return c.post(f"/workflows/runs/{run_id}/steps/{step}/confirm", data={**values, "csrf_token": token},
                  follow_redirects=False)  # fmt: skip


def test_breakfix_from_the_start_form_to_the_signed_pdf(
    hub: Hub, sandboxes: SandboxSet, operator: tuple[TestClient, str], viewer: tuple[TestClient, str]
) -> None:
    c, token = operator
    form = c.get("/workflows/start/new-breakfix-customer")
    assert form.status_code == 200
    assert 'type="email"' in form.text and '<select id="in-customer"' in form.text
    engine = WorkflowEngine(hub)

    bad = start(c, token, email="not-an-address", name="", machine_age="old")
    assert bad.status_code == 400
    assert "must be an e-mail address" in bad.text and "&#39;old&#39; must be a" in bad.text
    assert "required" in bad.text
    assert engine.runs.recent() == []  # nothing started

    run_id = run_of(start(c, token))
    page = c.get(f"/workflows/runs/{run_id}")
    assert "Ask Maria Garcia (518-555-0199) to confirm they want an appointment" in page.text
    assert f'action="/workflows/runs/{run_id}/steps/appointment/confirm"' in page.text
    seen_by_viewer = viewer[0].get(f"/workflows/runs/{run_id}")
    assert "An operator confirms this step" in seen_by_viewer.text and "/confirm" not in seen_by_viewer.text
    assert viewer[0].post(f"/workflows/runs/{run_id}/steps/appointment/confirm",
                          data={"csrf_token": viewer[1]}).status_code == 403  # fmt: skip

    assert confirm(c, token, run_id, "appointment", note="customer said yes").status_code == 303
    run = engine.runs.get(run_id)
    assert (run.status, run.current_step) == (RunStatus.waiting, "signed")
    assert "Customer e-signs the terms" in c.get(f"/workflows/runs/{run_id}").text
    unexplained = c.post(f"/workflows/runs/{run_id}/steps/signed/confirm", data={"csrf_token": token},
                         headers={"referer": f"http://testserver/workflows/runs/{run_id}"})  # fmt: skip
    assert "say what happened" in unexplained.text  # an event wait is ended by hand only with a reason
    assert engine.runs.get(run_id).current_step == "signed"

    # the customer signs; the poll that hub serve runs on a schedule ends the wait
    sandboxes.control("docusign").sign(run.values["send_terms"]["envelope_id"])
    engine.poll()
    assert engine.runs.get(run_id).current_step == "payment"
    page = c.get(f"/workflows/runs/{run_id}")
    assert '<select id="payment-method" name="method"' in page.text and 'id="payment-amount"' in page.text

    wrong = confirm(c, token, run_id, "payment", method="payment", amount="lots")
    assert wrong.status_code == 400 and "must be a number" in wrong.text
    assert engine.runs.get(run_id).current_step == "payment"
    assert confirm(c, token, run_id, "payment", method="payment", amount="150").status_code == 303

    form = c.get(f"/workflows/runs/{run_id}").text
    assert 'type="date"' in form and 'type="time"' in form
    assert confirm(c, token, run_id, "schedule", service_date="10/03/2026").status_code == 400
    assert confirm(c, token, run_id, "schedule", service_date="2026-03-10", start_time="09:30",
                   technician="external").status_code == 303
    assert engine.runs.get(run_id).status is RunStatus.completed

    page = c.get(f"/workflows/runs/{run_id}")
    assert f"/workflows/runs/{run_id}/files/save_terms" in page.text
    pdf = c.get(f"/workflows/runs/{run_id}/files/save_terms")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    audit = search_audit(hub.store, AuditQuery(run=run_id, actor="user:"))
    assert {(r["operation"], r["actor"]) for r in audit} == {
        ("run.started", "user:otto"), ("step.confirmed", "user:otto"),
    }  # fmt: skip
    assert len([r for r in audit if r["operation"] == "step.confirmed"]) == 3


def test_the_run_page_refreshes_only_when_the_run_changed(hub: Hub, operator: tuple[TestClient, str]) -> None:
    c, token = operator
    run_id = run_of(start(c, token))
    sig = re.search(r"changed\?sig=([^\"]+)\"", c.get(f"/workflows/runs/{run_id}").text)
    assert sig
    from urllib.parse import unquote

    same = c.get(f"/workflows/runs/{run_id}/changed", params={"sig": unquote(sig.group(1))})
    assert same.status_code == 204 and "HX-Refresh" not in same.headers
    confirm(c, token, run_id, "appointment")
    moved = c.get(f"/workflows/runs/{run_id}/changed", params={"sig": unquote(sig.group(1))})
    assert moved.headers["HX-Refresh"] == "true"


def test_cancel_and_filters_and_waiting_list(hub: Hub, operator: tuple[TestClient, str]) -> None:
    c, token = operator
    run_id = run_of(start(c, token))
    other = run_of(start(c, token, name="Bob Stone", first_name="Bob", last_name="Stone", email="bob@example.org"))
    listing = c.get("/workflows").text
    assert "Ask Maria Garcia" in listing and "Ask Bob Stone" in listing  # waiting on a person
    assert "Bob Stone" not in c.get("/workflows", params={"customer": "garcia"}).text.split("Runs")[1]
    cancelled = c.post(f"/workflows/runs/{run_id}/cancel", data={"csrf_token": token, "reason": "customer withdrew"},
                       follow_redirects=False)  # fmt: skip
    assert cancelled.status_code == 303
    assert WorkflowEngine(hub).runs.get(run_id).status is RunStatus.cancelled
    only = c.get("/workflows", params={"status": "cancelled"}).text.split("Runs")[1]
    assert run_id in only and other not in only
    row = search_audit(hub.store, AuditQuery(run=run_id, actor="user:otto"))
    assert any(r["operation"] == "run.cancelled" and r["after"] == {"reason": "customer withdrew"} for r in row)
    again = c.post(f"/workflows/runs/{run_id}/cancel", data={"csrf_token": token},
                   headers={"referer": f"http://testserver/workflows/runs/{run_id}"})  # fmt: skip
    assert "already cancelled" in again.text
    assert c.get("/workflows", params={"status": "bogus"}).status_code == 400
    assert c.get("/workflows/runs/no-such-run").status_code == 404


def test_a_file_outside_the_documents_root_is_never_served(hub: Hub, operator: tuple[TestClient, str]) -> None:
    c, token = operator
    run_id = run_of(start(c, token))
    with hub.store.transaction() as conn:
        conn.execute(update(t.workflow_steps).where(t.workflow_steps.c.run_id == run_id,
                                                    t.workflow_steps.c.step_id == "create_company")
                     .values(result={"id": 1, "path": "/etc/passwd"}))  # fmt: skip
    assert c.get(f"/workflows/runs/{run_id}/files/create_company").status_code == 404


def test_a_failed_run_is_resumed_by_the_person_who_asked(hub: Hub, operator: tuple[TestClient, str]) -> None:
    c, token = operator
    run_id = run_of(start(c, token, postal_code="99999"))  # outside the service area: the check fails
    page = c.get(f"/workflows/runs/{run_id}").text
    assert "outside our service area" in page and f"/workflows/runs/{run_id}/resume" in page
    resumed = c.post(f"/workflows/runs/{run_id}/resume", data={"csrf_token": token}, follow_redirects=False)
    assert resumed.status_code == 303
    assert WorkflowEngine(hub).runs.get(run_id).status is RunStatus.failed  # the cause is still there
    rows = search_audit(hub.store, AuditQuery(run=run_id, actor="user:otto"))
    assert {r["operation"] for r in rows} == {"run.started", "run.resumed"}
