"""`new-breakfix-customer` end to end against the Autotask and DocuSign simulators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.sandbox import SandboxSet
from hub.settings import load_settings
from hub.workflow import RunStatus, StepStatus, WorkflowEngine

from .support import Crash, CrashAt, drive, vendor_state

NAME = "Maria O'Brien / Home Office"

INPUTS = {
    "name": NAME,
    "first_name": "Maria",
    "last_name": "O'Brien",
    "email": "maria.obrien@example.net",
    "phone": "518-555-0142",
    "street": "12 Elm Street",
    "city": "East Greenbush",
    "state": "NY",
    "postal_code": "12061",
    "computers": "2",
    "servers": "0",
    "referral": "Jane Doe",
    "os": "Windows 11",
    "machine_age": "3",
    "read_back": "yes",
    "customer": "residential",
    "visit": "onsite",
}

ANSWERS = {
    "appointment": {},
    "payment": {"method": "payment", "amount": "150"},
    "schedule": {"service_date": "2026-03-10", "start_time": "9:30", "duration_minutes": "90",
                 "technician": "internal", "resource_id": "29682887"},
}  # fmt: skip

#: steps with a side effect at a vendor or on disk
SIDE_EFFECTS = [
    "create_company",
    "create_contact",
    "intake_note",
    "account_type",
    "classification",
    "help_desk",
    "ticket",
    "send_terms",
    "save_terms",
    "estimate_note",
    "service_call",
    "scheduled_status",
    "due_date",
    "assign",
    "notify_technician",
]


def autotask_records(sandboxes: SandboxSet, entity: str) -> dict[int, dict[str, Any]]:
    return dict(sandboxes.sandboxes["autotask"].extra["simulator"].tables[entity].records)


def udf(record: dict[str, Any], name: str) -> Any:
    return next(u["value"] for u in record["userDefinedFields"] if u["name"] == name)


def check_outcome(engine: WorkflowEngine, run_id: str, sandboxes: SandboxSet) -> None:
    """Exactly one of everything the procedure makes, each as the procedure says."""
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed, run.error
    companies = [c for c in autotask_records(sandboxes, "Companies").values() if c["companyName"] == NAME]
    assert len(companies) == 1
    (company,) = companies
    assert company["companyType"] == 1  # Customer
    assert company["classification"] == 101  # R0
    assert udf(company, "Help Desk") == "1"  # none - as tech is available
    assert (company["postalCode"], company["phone"]) == ("12061", "518-555-0142")
    contacts = [c for c in autotask_records(sandboxes, "Contacts").values() if c["companyID"] == company["id"]]
    assert len(contacts) == 1 and contacts[0]["primaryContact"] is True
    assert (contacts[0]["firstName"], contacts[0]["emailAddress"]) == ("Maria", INPUTS["email"])
    assert udf(contacts[0], "Primary Authorization") == "1"
    notes = [n for n in autotask_records(sandboxes, "CompanyNotes").values() if n["companyID"] == company["id"]]
    assert len(notes) == 1 and "referral: Jane Doe" in notes[0]["note"]
    assert "e-mail and name read back to the customer: yes" in notes[0]["note"]

    tickets = [t for t in autotask_records(sandboxes, "Tickets").values() if t["companyID"] == company["id"]]
    assert len(tickets) == 1
    (ticket,) = tickets
    assert ticket["title"] == f"Onsite service: {NAME}"
    assert ticket["contactID"] == contacts[0]["id"]
    assert ticket["queueID"] == 29682969  # Level II Support: the onsite template
    assert ticket["status"] == 15  # Scheduled - internal tech
    # 9:30 on 10 March in the MSP's time zone (America/New_York, daylight time): 13:30 UTC
    assert ticket["dueDateTime"] == "2026-03-10T13:30:00.000Z"
    assert (ticket["assignedResourceID"], ticket["assignedResourceRoleID"]) == (29682887, 29682833)
    ticket_notes = {n["title"]: n for n in autotask_records(sandboxes, "TicketNotes").values()
                    if n["ticketID"] == ticket["id"]}  # fmt: skip
    assert sorted(ticket_notes) == [
        "Assignment: onsite service on 2026-03-10 at 09:30",
        "Payment in advance (estimate)",
    ]
    # the note says what the person confirmed, after they confirmed it
    assert "confirmed: payment 150.0 taken in advance" in ticket_notes["Payment in advance (estimate)"]["description"]
    (link,) = [c for c in autotask_records(sandboxes, "ServiceCallTickets").values() if c["ticketID"] == ticket["id"]]
    call = autotask_records(sandboxes, "ServiceCalls")[link["serviceCallID"]]
    assert (call["startDateTime"], call["endDateTime"]) == ("2026-03-10T13:30:00.000Z", "2026-03-10T15:00:00.000Z")
    (tech,) = [r for r in autotask_records(sandboxes, "ServiceCallTicketResources").values()
               if r["serviceCallTicketID"] == link["id"]]  # fmt: skip
    assert tech["resourceID"] == 29682887

    docusign = sandboxes.control("docusign")
    (envelope_id,) = docusign.find_by_field("hub_run_id", run_id)
    assert docusign.envelope(envelope_id)["status"] == "completed"
    folder = Path(load_settings().documents_root) / "Maria O'Brien %2F Home Office"
    pdfs = list(folder.glob("*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF-")
    assert run.values["save_terms"]["path"] == str(pdfs[0])


@pytest.fixture(autouse=True)
def new_york(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TIMEZONE", "America/New_York")


@pytest.mark.parametrize("sign", ["event", "poll"])
def test_runs_end_to_end(engine: WorkflowEngine, sandboxes: SandboxSet, sign: str) -> None:
    run_id = engine.start("new-breakfix-customer", INPUTS)
    run = engine.runs.get(run_id)
    assert (run.status, run.current_step) == (RunStatus.waiting, "appointment")
    drive(engine, run_id, ANSWERS, docusign=sandboxes.control("docusign"), sign=sign)
    check_outcome(engine, run_id, sandboxes)
    assert engine.runs.get(run_id).values["signed"]["source"] == sign


def test_a_second_run_changes_nothing(engine: WorkflowEngine, sandboxes: SandboxSet) -> None:
    docusign = sandboxes.control("docusign")
    drive(engine, engine.start("new-breakfix-customer", INPUTS), ANSWERS, docusign=docusign)
    before = vendor_state(sandboxes)
    again = engine.start("new-breakfix-customer", INPUTS)
    drive(engine, again, ANSWERS, docusign=docusign)
    assert vendor_state(sandboxes) == before  # not one record written, in any system
    run = engine.runs.get(again)
    assert run.values["send_terms"]["reused"] is True  # the customer has the terms already
    assert engine.runs.step(again, "create_company").status is StepStatus.skipped
    assert run.values["service_call"]["changed"] is False


def test_an_unknown_machine_age_is_asked_not_assumed(engine: WorkflowEngine, sandboxes: SandboxSet) -> None:
    given = {k: v for k, v in INPUTS.items() if k != "machine_age"}
    run_id = engine.start("new-breakfix-customer", given)
    assert engine.runs.get(run_id).current_step == "ask_machine_age"
    engine.confirm(run_id, "ask_machine_age", values={"machine_age": "12"})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed and "the machine is 12 years old" in (run.error or "")
    assert not [c for c in autotask_records(sandboxes, "Companies").values() if c["companyName"] == NAME]


def test_the_intake_note_does_not_claim_a_read_back_nobody_did(engine: WorkflowEngine, sandboxes: SandboxSet) -> None:
    run_id = engine.start("new-breakfix-customer", {**INPUTS, "read_back": "no"})
    company = engine.runs.get(run_id).values["company"]["id"]
    (note,) = [n for n in autotask_records(sandboxes, "CompanyNotes").values() if n["companyID"] == int(company)]
    assert "read back to the customer: no" in note["note"]


def test_business_customer_takes_no_prepayment(engine: WorkflowEngine, sandboxes: SandboxSet) -> None:
    run_id = engine.start("new-breakfix-customer", {**INPUTS, "customer": "business", "visit": "remote"})
    drive(engine, run_id, ANSWERS, docusign=sandboxes.control("docusign"))
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    assert run.values["prepayment"] == {"taken": "else"}
    assert engine.runs.step(run_id, "payment") is None
    (company,) = [c for c in autotask_records(sandboxes, "Companies").values() if c["companyName"] == NAME]
    assert company["classification"] == 102  # BN
    (ticket,) = [t for t in autotask_records(sandboxes, "Tickets").values() if t["companyID"] == company["id"]]
    assert ticket["title"] == f"Remote service: {NAME}" and ticket["queueID"] == 29682833


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"postal_code": "90210"}, "postal code 90210 is outside our service area"),
        ({"os": "Windows XP"}, "Windows XP is not a supported operating system"),
        ({"machine_age": "11"}, "the machine is 11 years old"),
    ],
)
def test_checks_stop_before_anything_is_created(
    engine: WorkflowEngine, sandboxes: SandboxSet, change: dict[str, str], reason: str
) -> None:
    before = len(autotask_records(sandboxes, "Companies"))
    run_id = engine.start("new-breakfix-customer", {**INPUTS, **change})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed and reason in (run.error or "")
    assert len(autotask_records(sandboxes, "Companies")) == before


def test_declined_terms_fail_the_run(engine: WorkflowEngine, sandboxes: SandboxSet) -> None:
    docusign = sandboxes.control("docusign")
    run_id = engine.start("new-breakfix-customer", INPUTS)
    engine.confirm(run_id, "appointment")
    envelope_id = engine.runs.get(run_id).values["send_terms"]["envelope_id"]
    docusign.decline(envelope_id)
    assert engine.poll() == 1
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed and run.error.startswith("terms_accepted:")
    assert engine.runs.step(run_id, "save_terms") is None


@pytest.mark.parametrize("step", SIDE_EFFECTS)
def test_killed_after_a_side_effect_resumes_without_repeating_it(
    engine: WorkflowEngine, sandboxes: SandboxSet, step: str
) -> None:
    docusign = sandboxes.control("docusign")
    crash = CrashAt(engine, step)
    run_id = None
    with pytest.raises(Crash):
        run_id = engine.start("new-breakfix-customer", INPUTS)
        drive(engine, run_id, ANSWERS, docusign=docusign)
    assert crash.fired
    run_id = run_id or engine.runs.recent()[0].id
    interrupted = engine.runs.step(run_id, step)
    assert interrupted is not None and interrupted.status is StepStatus.running
    engine.resume(run_id)
    assert engine.runs.step(run_id, step).attempts == 2
    drive(engine, run_id, ANSWERS, docusign=docusign)
    check_outcome(engine, run_id, sandboxes)
