"""End to end: a multi-step onboarding through checks, writes, actions, waits and branches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.connector import Event
from hub.errors import ConfigError
from hub.workflow import RunStatus, StepStatus

from .conftest import ONBOARD


def signed(envelope_id: str, event_id: str = "evt-1", kind: str = "envelope-completed") -> Event:
    return Event(connector="fakesign", type=kind, id=event_id, correlation={"envelope_id": envelope_id})


def statuses(engine: Any, run_id: str) -> dict[str, str]:
    return {k: v.status.value for k, v in engine.runs.steps(run_id).items()}


def test_onboarding_end_to_end(engine: Any, world: Any, hub: Any, settings: Any) -> None:
    run_id = engine.start("onboard-test", ONBOARD)
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.waiting and run.current_step == "appointment"
    company_id = run.values["create_company"]["id"]
    company = world.table("companies")[company_id]
    # created as Prospect through the mapping: label -> picklist value
    assert company["companyName"] == "Acme Dental" and company["companyType"] == 3

    engine.confirm(run_id, "appointment", note="customer agreed", values={"service_date": "2026-02-03"})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.waiting and run.current_step == "signed"
    company = world.table("companies")[company_id]
    assert company["companyType"] == 1 and company["classification"] == "R0"
    assert company["userDefinedFields"] == [{"name": "Help Desk", "value": "none - as tech is available"}]
    ticket = world.table("tickets")[run.values["ticket"]["id"]]
    assert ticket == {
        **ticket,
        "companyID": company_id,
        "status": "Pending Paperwork",
        "title": "Remote service for Acme Dental",
        "queue": "Remote",
    }
    envelope_id = run.values["send_terms"]["envelope_id"]

    assert engine.handle_event(signed(envelope_id)) == [run_id]
    run = engine.runs.get(run_id)
    assert run.current_step == "payment"  # residential: pay in advance, a person confirms
    pdf = Path(run.values["save_pdf"]["path"])
    assert pdf == settings.documents_root / "Acme Dental" / f"terms-{envelope_id}.pdf" and pdf.is_file()

    engine.confirm(run_id, "payment", note="paid by card")
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    ticket = world.table("tickets")[run.values["ticket"]["id"]]
    assert ticket["status"] == "Scheduled" and ticket["dueDateTime"] == "2026-02-03"
    steps = statuses(engine, run_id)
    assert "business_note" not in steps and steps["payment"] == "done"
    assert all(s in ("done",) for s in steps.values())
    assert {
        op: world.count(op)
        for op in (
            "create:Companies",
            "update:Companies",
            "create:Tickets",
            "update:Tickets",
            "send_terms",
            "download",
        )
    } == {
        "create:Companies": 1,
        "update:Companies": 1,
        "create:Tickets": 1,
        "update:Tickets": 1,
        "send_terms": 1,
        "download": 1,
    }
    # every step's result is in the audit log, writes under the vendor's record id
    audit = hub.store.audit_rows(run_id)
    ops = [(a["system"], a["operation"], a["record_id"]) for a in audit]
    assert ("fakepsa", "create", company_id) in ops and ("fakepsa", "update", company_id) in ops
    assert ("fakesign", "action", None) in ops
    assert ("workflow", "step.confirmed", "appointment") in ops
    assert ops[0][1] == "run.started" and ops[-1][1] == "run.completed"
    assert any(a["actor"].startswith("user:") for a in audit)
    # each step with a result, and the idempotency key recorded on side-effect steps
    rec = engine.runs.step(run_id, "send_terms")
    assert rec.idempotency_key == f"{run_id}:send_terms" and rec.attempts == 1


def test_replayed_event_changes_nothing(engine: Any, world: Any) -> None:
    run_id = engine.start("onboard-test", {**ONBOARD, "kind": "business"})
    engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03"})
    envelope_id = engine.runs.get(run_id).values["send_terms"]["envelope_id"]
    assert engine.handle_event(signed(envelope_id)) == [run_id]
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    audit_before = len(engine.hub.store.audit_rows(run_id))
    assert engine.handle_event(signed(envelope_id)) == []
    assert len(engine.hub.store.audit_rows(run_id)) == audit_before
    assert world.count("download") == 1
    # the business branch ran its else-steps, not the payment
    steps = statuses(engine, run_id)
    assert steps["business_note"] == "done" and "payment" not in steps


def test_event_for_other_envelope_or_connector_is_ignored(engine: Any) -> None:
    run_id = engine.start("onboard-test", ONBOARD)
    engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03"})
    envelope_id = engine.runs.get(run_id).values["send_terms"]["envelope_id"]
    assert engine.handle_event(signed("env-other")) == []
    assert (
        engine.handle_event(
            Event("fakepsa", "envelope-completed", "e", correlation={"envelope_id": envelope_id})
        )
        == []
    )
    assert engine.handle_event(signed(envelope_id, kind="envelope-sent")) == []
    assert engine.runs.get(run_id).current_step == "signed"


def test_declined_envelope_fails_with_reason(engine: Any, world: Any) -> None:
    run_id = engine.start("onboard-test", ONBOARD)
    engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03"})
    envelope_id = engine.runs.get(run_id).values["send_terms"]["envelope_id"]
    engine.handle_event(signed(envelope_id, kind="envelope-declined"))
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed
    assert run.error == "not_declined: Acme Dental declined the terms"
    assert world.count("download") == 0


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ({"postal_code": "90210"}, "service_area: postal code 90210 is outside the service area"),
        ({"os": "Windows XP"}, "supported_os: Windows XP is not a supported OS"),
    ],
)
def test_check_fails_the_run_with_its_reason(engine: Any, world: Any, inputs: dict, reason: str) -> None:
    run_id = engine.start("onboard-test", {**ONBOARD, **inputs})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed and run.error == reason
    assert world.count("create:Companies") == 0


def test_manual_step_fields_are_validated(engine: Any) -> None:
    run_id = engine.start("onboard-test", ONBOARD)
    with pytest.raises(ConfigError, match="missing required field 'service_date'"):
        engine.confirm(run_id, "appointment")
    with pytest.raises(ConfigError, match="must be a date"):
        engine.confirm(run_id, "appointment", values={"service_date": "next tuesday"})
    with pytest.raises(ConfigError, match="unknown field 'tech'"):
        engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03", "tech": "x"})
    with pytest.raises(ConfigError, match="step make_customer is not reached yet"):
        engine.confirm(run_id, "make_customer")
    with pytest.raises(ConfigError, match="has no step 'nope'"):
        engine.confirm(run_id, "nope")
    assert engine.runs.get(run_id).current_step == "appointment"


def test_inputs_are_validated_before_a_run_exists(engine: Any) -> None:
    with pytest.raises(ConfigError, match="missing required input 'email'"):
        engine.start("onboard-test", {k: v for k, v in ONBOARD.items() if k != "email"})
    with pytest.raises(ConfigError, match="unknown input 'colour'"):
        engine.start("onboard-test", {**ONBOARD, "colour": "red"})
    with pytest.raises(ConfigError, match="'flat' is not one of residential, business"):
        engine.start("onboard-test", {**ONBOARD, "kind": "flat"})
    with pytest.raises(ConfigError, match="unknown workflow 'nope'; workflows: onboard-test"):
        engine.start("nope", {})
    assert engine.runs.recent() == []


def test_cancel_stops_waiting(engine: Any) -> None:
    run_id = engine.start("onboard-test", ONBOARD)
    engine.cancel(run_id, reason="customer changed their mind")
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.cancelled and run.error == "customer changed their mind"
    assert engine.runs.step(run_id, "appointment").status is StepStatus.cancelled
    with pytest.raises(ConfigError, match="nothing to confirm"):
        engine.confirm(run_id, "appointment", values={"service_date": "2026-02-03"})
    with pytest.raises(ConfigError, match="already cancelled"):
        engine.cancel(run_id)
    assert engine.advance(run_id) is RunStatus.cancelled


def test_step_listener_sees_each_step(hub: Any) -> None:
    from hub.workflow import WorkflowEngine

    seen: list[tuple[str, str]] = []
    engine = WorkflowEngine(hub, on_step=lambda run, step, status, detail: seen.append((step, status)))
    engine.start("onboard-test", ONBOARD)
    assert seen == [
        ("service_area", "done"),
        ("supported_os", "done"),
        ("create_company", "running"),
        ("create_company", "done"),
        ("appointment", "waiting"),
    ]
