"""`new-authorization-contact`, both branches, against the Autotask, DocuSign, IT Glue and QuickBooks simulators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.sandbox import SandboxSet
from hub.settings import load_settings
from hub.sync import run_job
from hub.workflow import RunStatus, StepStatus, WorkflowEngine

from .support import MS, Crash, CrashAt, Psa, drive, sign_envelope, vendor_state

pytestmark = pytest.mark.sandboxes(autotask={"size": 4}, docusign={}, itglue={"size": 0}, quickbooks={"size": 0})

NAME = "Cedar Clinic"
WORKFLOW = "new-authorization-contact"


@pytest.fixture
def customer(hub: Hub) -> dict[str, Any]:
    """An MSA customer synced to IT Glue, with its authorities and a QuickBooks customer.

    Olga is the primary contact and primary authority (reports, invoices), Wei asks for
    the change and is a secondary authority, Xena is another secondary authority.
    """
    psa = Psa(hub)
    company = psa.company(NAME, MS)
    olga = psa.contact(company, "Olga", primary=True, reports=True, authority="primary", invoices=True)
    wei = psa.contact(company, "Wei", authority="secondary")
    xena = psa.contact(company, "Xena", authority="secondary")
    summary = run_job(hub, "psa-to-docs")
    assert summary["status"] == "ok", summary
    books = hub.connector("quickbooks").create(
        "Customer", {"DisplayName": NAME, "PrimaryEmailAddr": {"Address": "olga@example.com, ap@cedar.example"}}
    )
    return {"company": company, "olga": olga, "wei": wei, "xena": xena, "books": books.id}


def at(sandboxes: SandboxSet, entity: str) -> dict[int, dict[str, Any]]:
    return dict(sandboxes.sandboxes["autotask"].extra["simulator"].tables[entity].records)


def udf(record: dict[str, Any], name: str) -> Any:
    return next(u["value"] for u in record["userDefinedFields"] if u["name"] == name)


def contacts(sandboxes: SandboxSet, customer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The account's contacts by first name."""
    rows = at(sandboxes, "Contacts").values()
    return {c["firstName"]: c for c in rows if c["companyID"] == int(customer["company"])}


def site_summaries(hub: Hub) -> list[dict[str, Any]]:
    itg = hub.connector("itglue")
    return [itg.with_labels(r) for page in itg.stream("site_summaries").read() for r in page.records]


def itg_contact_ids(hub: Hub, email: str) -> list[str]:
    stream = hub.connector("itglue").stream("contacts")
    found = []
    for page in stream.read():
        for r in page.records:
            if any(e.get("value") == email for e in r["attributes"].get("contact-emails") or []):
                found.append(str(r["id"]))
    return found


#: what Wei types into the New Authorization Contact Request form (tab labels of the template)
PRIMARY_FORM = {
    "Authority Replaced": "Primary",
    "New Contact First Name": "Nora",
    "New Contact Last Name": "New",
    "New Contact Email": "nora@example.com",
    "Previous Contact Email": "olga@example.com",
    "Previous Contact Leaving": "yes",
    "Receives Monthly Reports": "yes",
}
FILL = {"form_filled": PRIMARY_FORM}
ANSWERS: dict[str, Any] = {"review": {}, "verify_invoice_recipient": {"change": "yes"}}


def start(engine: WorkflowEngine, customer: dict[str, Any], **given: str) -> str:
    return engine.start(WORKFLOW, {"company_id": customer["company"], "requester_contact_id": customer["wei"], **given})


def check_primary(hub: Hub, sandboxes: SandboxSet, customer: dict[str, Any], run_id: str) -> None:
    people = contacts(sandboxes, customer)
    olga, nora, wei, xena = people["Olga"], people["Nora"], people["Wei"], people["Xena"]
    assert len([c for c in people.values() if c["emailAddress"] == "nora@example.com"]) == 1
    # exactly one primary authority, the new one; the secondary ones as they were
    assert [n for n, c in people.items() if udf(c, "Primary Authorization") == "1"] == ["Nora"]
    assert sorted(n for n, c in people.items() if udf(c, "Secondary Authorization") == "1") == ["Wei", "Xena"]
    assert olga["isActive"] == 0 and udf(olga, "Receives Reports") == "0" and udf(olga, "Invoice Recipient") == "0"
    assert udf(nora, "Receives Reports") == "1" and udf(nora, "Invoice Recipient") == "1"
    assert wei["isActive"] == 1 and xena["isActive"] == 1
    (ticket,) = [t for t in at(sandboxes, "Tickets").values() if t["companyID"] == int(customer["company"])]
    assert (ticket["ticketCategory"], ticket["queueID"], ticket["contactID"]) == (3, 29682833, int(customer["wei"]))
    (note,) = [n for n in at(sandboxes, "TicketNotes").values() if n["ticketID"] == ticket["id"]]
    assert note["title"] == "New Authorization Contact Request"
    assert "New Contact Email: nora@example.com" in note["description"]
    docusign = sandboxes.control("docusign")
    form, terms = _envelopes(docusign, run_id)
    assert docusign.envelope(form)["recipients"]["signers"][0]["email"] == "wei@example.com"
    assert [c["email"] for c in docusign.envelope(form)["recipients"]["carbonCopies"]] == ["olga@example.com"]
    assert docusign.envelope(terms)["status"] == "completed"
    assert docusign.envelope(terms)["recipients"]["signers"][0]["email"] == "nora@example.com"
    assert len(list((Path(load_settings().documents_root) / NAME).glob("*.pdf"))) == 1
    (nora_itg,) = itg_contact_ids(hub, "nora@example.com")
    (summary,) = site_summaries(hub)
    assert [str(i) for i in summary["labels"]["Primary Authorization"]] == [nora_itg]
    addresses = hub.connector("quickbooks").get("Customer", customer["books"])["PrimaryEmailAddr"]["Address"]
    assert sorted(a.strip() for a in addresses.split(",")) == ["ap@cedar.example", "nora@example.com"]


def _envelopes(docusign: Any, run_id: str) -> tuple[str, str]:
    """The run's form envelope and terms envelope (by the step in their custom fields)."""
    ids = docusign.find_by_field("hub_run_id", run_id)
    steps = {docusign.envelope(i)["customFields"]["textCustomFields"][1]["value"]: i for i in ids}
    return steps["send_form"], steps["send_terms"]


def test_primary_authority_replaced_through_the_form(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict
) -> None:
    docusign = sandboxes.control("docusign")
    run_id = start(engine, customer)
    assert engine.runs.get(run_id).current_step == "form_filled"
    sign_envelope(hub, docusign, engine.runs.get(run_id).values["send_form"]["envelope_id"], "event", engine,
                  PRIMARY_FORM)  # fmt: skip
    run = engine.runs.get(run_id)
    assert run.current_step == "review"  # the office admin sees the answers, prefilled
    form = engine.runs.step(run_id, "review").waiting_on["fields"]
    assert {k: form[k].get("default") for k in ("authority", "email", "departing_leaving")} == {
        "authority": "primary", "email": "nora@example.com", "departing_leaving": True,
    }  # fmt: skip
    engine.confirm(run_id, "review")
    assert engine.runs.get(run_id).current_step == "signed"
    # the old primary authority stays active until the new one has signed
    assert contacts(sandboxes, customer)["Olga"]["isActive"] == 1
    drive(engine, run_id, ANSWERS, docusign=docusign, fill=FILL)
    assert engine.runs.get(run_id).status is RunStatus.completed
    assert engine.runs.step(run_id, "create_site_summary").status is StepStatus.done
    check_primary(hub, sandboxes, customer, run_id)


def test_a_second_run_changes_nothing(engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict) -> None:
    docusign = sandboxes.control("docusign")
    drive(engine, start(engine, customer), ANSWERS, docusign=docusign, fill=FILL)
    before = vendor_state(sandboxes)
    again = start(engine, customer)
    drive(engine, again, ANSWERS, docusign=docusign, fill=FILL)
    assert engine.runs.get(again).status is RunStatus.completed
    assert vendor_state(sandboxes) == before  # not one record written, in any system
    values = engine.runs.get(again).values
    assert values["send_form"]["reused"] is True and values["send_terms"]["reused"] is True
    assert engine.runs.step(again, "new_contact").status is StepStatus.skipped


@pytest.mark.parametrize(("existing", "by"), [("nora@example.com", "e-mail"), ("nora.new@other.example", "name")])
def test_an_existing_contact_is_reused_not_duplicated(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict, existing: str, by: str
) -> None:
    nora = hub.connector("autotask").create(
        "Contacts", {"companyID": int(customer["company"]), "firstName": "Nora", "lastName": "New",
                     "emailAddress": existing, "isActive": 1},
    ).id  # fmt: skip
    run_id = start(engine, customer, authority="secondary", first_name="Nora", last_name="New",
                   email="nora@example.com", permissions="approve purchases under $500")  # fmt: skip
    drive(engine, run_id, {**ANSWERS, "verify_invoice_recipient": {"change": "no"}})
    assert engine.runs.step(run_id, "new_contact").status is StepStatus.skipped
    people = [c for c in at(sandboxes, "Contacts").values() if c["firstName"] == "Nora"]
    assert [c["id"] for c in people] == [int(nora)], f"found by {by}: no second Nora"
    assert udf(people[0], "Secondary Authorization") == "1"
    assert udf(people[0], "Authority Permissions") == "approve purchases under $500"


def test_secondary_authority_replaced_leaves_the_others(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict
) -> None:
    (olga_itg,) = itg_contact_ids(hub, "olga@example.com")
    org_id = hub.store.counterpart("organization", "autotask", customer["company"], "itglue")
    existing = hub.connector("itglue").create(
        "site_summaries",
        {
            "attributes": {"organization-id": org_id, "name": NAME},
            "labels": {"Site Name": NAME, "Primary Authorization": [olga_itg], "Internet Provider": "Metro Cable"},
        },
    )
    run_id = start(engine, customer, authority="secondary", first_name="Sam", last_name="Second",
                   email="sam@example.com", departing_email="wei@example.com", departing_leaving="no")  # fmt: skip
    answers = {
        "review": {},
        "permissions": {"permissions": "approve purchases under $500, add users"},
        "verify_invoice_recipient": {"change": "no"},
    }
    drive(engine, run_id, answers)
    assert engine.runs.get(run_id).status is RunStatus.completed
    assert engine.runs.step(run_id, "send_form") is None and engine.runs.step(run_id, "send_terms") is None
    people = contacts(sandboxes, customer)
    assert people["Wei"]["isActive"] == 1 and udf(people["Wei"], "Secondary Authorization") == "0"
    assert [udf(people[n], "Secondary Authorization") for n in ("Sam", "Xena")] == ["1", "1"]
    assert [n for n, c in people.items() if udf(c, "Primary Authorization") == "1"] == ["Olga"]
    assert udf(people["Sam"], "Authority Permissions") == "approve purchases under $500,add users"
    (ticket,) = [t for t in at(sandboxes, "Tickets").values() if t["companyID"] == int(customer["company"])]
    (note,) = [n for n in at(sandboxes, "TicketNotes").values() if n["ticketID"] == ticket["id"]]
    assert note["description"].startswith("Given when the run started (no form sent)")
    (summary,) = site_summaries(hub)
    assert str(summary["id"]) == existing.id
    # the traits the workflow does not manage are kept (IT Glue replaces all traits on update)
    assert [str(i) for i in summary["labels"]["Primary Authorization"]] == [olga_itg]
    assert summary["labels"]["Internet Provider"] == "Metro Cable"
    (sam_itg,) = itg_contact_ids(hub, "sam@example.com")
    assert [str(i) for i in summary["labels"]["Secondary Authorization"]] == [sam_itg]
    assert summary["labels"]["Authorization Permissions"] == "Sam Second: approve purchases under $500, add users"
    addresses = hub.connector("quickbooks").get("Customer", customer["books"])["PrimaryEmailAddr"]["Address"]
    assert "sam@example.com" not in addresses  # the customer said no


def test_no_quickbooks_customer_by_that_name_asks_a_person(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict
) -> None:
    hub.connector("quickbooks").update("Customer", customer["books"], {"DisplayName": "Cedar Clinic LLC"})
    given = {"authority": "secondary", "first_name": "Sam", "last_name": "Second", "email": "sam@example.com",
             "permissions": "add users"}  # fmt: skip
    skipped = start(engine, customer, **given)
    drive(engine, skipped, {"review": {}, "books_pick": {}})  # no id: the invoice recipients are left alone
    assert engine.runs.get(skipped).status is RunStatus.completed
    assert engine.runs.step(skipped, "invoice_recipients").status is StepStatus.skipped
    picked = start(engine, customer, **given)
    drive(engine, picked, {"review": {}, "books_pick": {"customer_id": customer["books"]},
                           "verify_invoice_recipient": {"change": "yes"}})  # fmt: skip
    assert engine.runs.get(picked).values["invoice_recipients"]["customer_id"] == customer["books"]
    assert udf(contacts(sandboxes, customer)["Sam"], "Invoice Recipient") == "1"


@pytest.mark.parametrize(
    "step",
    [
        "ticket",
        "send_form",
        "request_note",
        "new_contact",
        "one_primary",
        "send_terms",
        "save_terms",
        "deactivate_departing",
        "itg_contact",
        "create_site_summary",
        "primary_authorization",
        "reports_departing",
        "reports_new",
        "add_invoice_recipient",
        "invoice_role_new",
        "remove_invoice_recipient",
        "invoice_role_departing",
    ],
)
def test_killed_after_a_side_effect_resumes_without_repeating_it(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict, step: str
) -> None:
    CrashAt(engine, step)
    docusign = sandboxes.control("docusign")
    with pytest.raises(Crash):
        run_id = start(engine, customer)
        drive(engine, run_id, ANSWERS, docusign=docusign, fill=FILL)
    (run,) = engine.runs.recent()
    assert engine.runs.step(run.id, step).status is StepStatus.running
    engine.resume(run.id)
    drive(engine, run.id, ANSWERS, docusign=docusign, fill=FILL)
    check_primary(hub, sandboxes, customer, run.id)
