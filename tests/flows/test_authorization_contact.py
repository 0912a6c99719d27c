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

from .support import MS, Crash, CrashAt, Psa, drive

pytestmark = pytest.mark.sandboxes(autotask={"size": 4}, docusign={}, itglue={"size": 0}, quickbooks={"size": 0})

NAME = "Cedar Clinic"


@pytest.fixture
def customer(hub: Hub) -> dict[str, Any]:
    """An MSA customer synced to IT Glue, with its authorities and a QuickBooks customer."""
    psa = Psa(hub)
    company = psa.company(NAME, MS)
    olga = psa.contact(company, "Olga", primary=True, reports=True)
    wei = psa.contact(company, "Wei")
    summary = run_job(hub, "psa-to-docs")
    assert summary["status"] == "ok", summary
    books = hub.connector("quickbooks").create(
        "Customer", {"DisplayName": NAME, "PrimaryEmailAddr": {"Address": "olga@example.com, ap@cedar.example"}}
    )
    return {"company": company, "olga": olga, "wei": wei, "books": books.id}


def at(sandboxes: SandboxSet, entity: str) -> dict[int, dict[str, Any]]:
    return dict(sandboxes.sandboxes["autotask"].extra["simulator"].tables[entity].records)


def udf(record: dict[str, Any], name: str) -> Any:
    return next(u["value"] for u in record["userDefinedFields"] if u["name"] == name)


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


PRIMARY = {
    "authority": "primary",
    "departing_leaving": "yes",
    "first_name": "Nora",
    "last_name": "New",
    "email": "nora@example.com",
    "receives_reports": "yes",
}


def check_primary(hub: Hub, sandboxes: SandboxSet, customer: dict[str, Any], run_id: str) -> None:
    contacts = {c["id"]: c for c in at(sandboxes, "Contacts").values() if c["companyID"] == int(customer["company"])}
    olga = contacts[int(customer["olga"])]
    assert olga["isActive"] == 0 and udf(olga, "Receives Reports") == "0"
    (nora,) = [c for c in contacts.values() if c["emailAddress"] == "nora@example.com"]
    assert udf(nora, "Primary Authorization") == "1" and udf(nora, "Receives Reports") == "1"
    docusign = sandboxes.control("docusign")
    (envelope,) = docusign.find_by_field("hub_run_id", run_id)
    assert docusign.envelope(envelope)["status"] == "completed"
    assert len(list((Path(load_settings().documents_root) / NAME).glob("*.pdf"))) == 1
    (nora_itg,) = itg_contact_ids(hub, "nora@example.com")
    (summary,) = site_summaries(hub)
    assert [str(i) for i in summary["labels"]["Primary Authorization"]] == [nora_itg]
    addresses = hub.connector("quickbooks").get("Customer", customer["books"])["PrimaryEmailAddr"]["Address"]
    assert sorted(a.strip() for a in addresses.split(",")) == ["ap@cedar.example", "nora@example.com"]


def test_primary_authority_replaced(engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict) -> None:
    run_id = engine.start(
        "new-authorization-contact",
        {**PRIMARY, "company_id": customer["company"], "departing_contact_id": customer["olga"]},
    )
    drive(engine, run_id, {"verify_invoice_recipient": {"change": "yes"}}, docusign=sandboxes.control("docusign"))
    # psa-to-docs documents organizations and contacts, not Site Summaries: the run made one
    assert engine.runs.step(run_id, "create_site_summary").status is StepStatus.done
    check_primary(hub, sandboxes, customer, run_id)


def test_secondary_authority_replaced(engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict) -> None:
    (olga_itg,) = itg_contact_ids(hub, "olga@example.com")
    org_id = hub.store.counterpart("organization", "autotask", customer["company"], "itglue")
    existing = hub.connector("itglue").create(
        "site_summaries",
        {
            "attributes": {"organization-id": org_id, "name": NAME},
            "labels": {"Site Name": NAME, "Primary Authorization": [olga_itg], "Internet Provider": "Metro Cable"},
        },
    )
    run_id = engine.start(
        "new-authorization-contact",
        {
            "company_id": customer["company"],
            "authority": "secondary",
            "departing_contact_id": customer["wei"],
            "departing_leaving": "no",
            "first_name": "Sam",
            "last_name": "Second",
            "email": "sam@example.com",
        },
    )
    answers = {
        "permissions": {"permissions": "approve purchases under $500, add users"},
        "verify_invoice_recipient": {"change": "no"},
    }
    drive(engine, run_id, answers)
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    assert engine.runs.step(run_id, "send_terms") is None  # the primary branch only
    contacts = {c["id"]: c for c in at(sandboxes, "Contacts").values() if c["companyID"] == int(customer["company"])}
    assert contacts[int(customer["wei"])]["isActive"] == 1  # not leaving: stays active
    (sam,) = [c for c in contacts.values() if c["emailAddress"] == "sam@example.com"]
    assert udf(sam, "Secondary Authorization") == "1"
    assert udf(sam, "Authority Permissions") == "approve purchases under $500,add users"
    assert engine.runs.step(run_id, "create_site_summary").status is StepStatus.skipped
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


@pytest.mark.parametrize(
    "step",
    [
        "deactivate_departing",
        "new_contact",
        "send_terms",
        "save_terms",
        "itg_contact",
        "create_site_summary",
        "primary_authorization",
        "reports_departing",
        "reports_new",
        "add_invoice_recipient",
        "remove_invoice_recipient",
    ],
)
def test_killed_after_a_side_effect_resumes_without_repeating_it(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, customer: dict, step: str
) -> None:
    CrashAt(engine, step)
    docusign = sandboxes.control("docusign")
    answers = {"verify_invoice_recipient": {"change": "yes"}}
    with pytest.raises(Crash):
        run_id = engine.start(
            "new-authorization-contact",
            {**PRIMARY, "company_id": customer["company"], "departing_contact_id": customer["olga"]},
        )
        drive(engine, run_id, answers, docusign=docusign)
    (run,) = engine.runs.recent()
    assert engine.runs.step(run.id, step).status is StepStatus.running
    engine.resume(run.id)
    drive(engine, run.id, answers, docusign=docusign)
    check_primary(hub, sandboxes, customer, run.id)
