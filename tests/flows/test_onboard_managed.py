"""`onboard-managed-services-customer` against the Autotask simulator, and killed mid-way."""

from __future__ import annotations

from typing import Any

import pytest

from hub.app import Hub
from hub.sandbox import SandboxSet
from hub.workflow import RunStatus, StepStatus, WorkflowEngine

from .support import MS, Crash, CrashAt, CrashInForeach, Psa, drive

pytestmark = pytest.mark.sandboxes(autotask={"size": 3})

BF = 102


@pytest.fixture
def won(hub: Hub) -> dict[str, Any]:
    """A business won from sales: three contacts (two marked primary), three devices, a parent."""
    psa = Psa(hub)
    parent = psa.company("Harbor Holdings", MS)
    company = psa.company("Harbor Dental", BF)
    owner = psa.contact(company, "Olga", primary=True)
    manager = psa.contact(company, "Wei", primary=True)
    books = psa.contact(company, "Liam")
    devices = [psa.device(company, f"HD-WS-0{n}") for n in (1, 2, 3)]
    return {
        "parent": parent,
        "company": company,
        "owner": owner,
        "manager": manager,
        "books": books,
        "devices": devices,
    }


def inputs(won: dict[str, Any]) -> dict[str, str]:
    return {
        "company_id": won["company"],
        "account_team": "29682886,29682887",
        "primary_contact_id": won["manager"],
        "portal_contact_id": won["books"],
        "parent_company_id": won["parent"],
        "tax_region": "New York",
        "tax_id": "NY-12-3456789",
        "billing_street": "PO Box 12",
        "billing_city": "Albany",
        "billing_state": "NY",
        "billing_postal_code": "12207",
        "billing_contact": "Liam Tester",
        "contract_start": "2026-01-01",
        "contract_end": "2026-12-31",
    }


ANSWERS = {"account_team": {"resources": "29682886,29682887"}, "client_portal": {"user_name": "liam@example.com"}}


def records(sandboxes: SandboxSet, entity: str) -> dict[int, dict[str, Any]]:
    return dict(sandboxes.sandboxes["autotask"].extra["simulator"].tables[entity].records)


def check_outcome(sandboxes: SandboxSet, won: dict[str, Any]) -> None:
    company = records(sandboxes, "Companies")[int(won["company"])]
    assert company["parentCompanyID"] == int(won["parent"])
    assert (company["taxRegionID"], company["taxID"], company["billToAttention"]) == (2, "NY-12-3456789", "Liam Tester")
    assert (company["billingAddress1"], company["billToCity"], company["billToZipCode"]) == (
        "PO Box 12",
        "Albany",
        "12207",
    )
    assert company["classification"] == MS
    contacts = {c["id"]: c for c in records(sandboxes, "Contacts").values() if c["companyID"] == company["id"]}
    assert [cid for cid, c in contacts.items() if c["primaryContact"]] == [int(won["manager"])]
    contracts = [c for c in records(sandboxes, "Contracts").values() if c["companyID"] == company["id"]]
    assert len(contracts) == 1
    (contract,) = contracts
    assert contract["contractName"] == "Harbor Dental - Managed Services"
    assert (contract["contractType"], contract["status"], contract["serviceLevelAgreementID"]) == (7, 1, 2)
    devices = [d for d in records(sandboxes, "ConfigurationItems").values() if d["companyID"] == company["id"]]
    assert sorted(d["contractID"] for d in devices) == [contract["id"]] * 3


def test_runs_end_to_end(engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any]) -> None:
    run_id = engine.start("onboard-managed-services-customer", inputs(won))
    drive(engine, run_id, ANSWERS)
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    assert run.values["demote_primaries"]["count"] == 1  # Olga; Wei is the one kept
    assert run.values["tie_devices"]["count"] == 3
    check_outcome(sandboxes, won)


def test_optional_steps_are_skipped(engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any]) -> None:
    given = {k: v for k, v in inputs(won).items() if k not in ("portal_contact_id", "parent_company_id")}
    run_id = engine.start("onboard-managed-services-customer", given)
    drive(engine, run_id, ANSWERS)
    assert engine.runs.step(run_id, "client_portal").status is StepStatus.skipped
    assert engine.runs.step(run_id, "parent_organization").status is StepStatus.skipped
    assert records(sandboxes, "Companies")[int(won["company"])]["parentCompanyID"] is None


@pytest.mark.parametrize("step", ["primary_contact", "invoice_settings", "contract"])
def test_killed_after_a_step_resumes_without_repeating_it(
    engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any], step: str
) -> None:
    CrashAt(engine, step)
    run_id = engine.start("onboard-managed-services-customer", inputs(won))
    with pytest.raises(Crash):
        drive(engine, run_id, ANSWERS)
    assert engine.runs.step(run_id, step).status is StepStatus.running
    engine.resume(run_id)
    drive(engine, run_id, ANSWERS)
    check_outcome(sandboxes, won)


@pytest.mark.parametrize("n", [1, 2])
def test_killed_inside_the_device_loop_resumes_with_the_next_device(
    engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any], n: int
) -> None:
    crash = CrashInForeach(engine, "tie_devices", n)
    run_id = engine.start("onboard-managed-services-customer", inputs(won))
    with pytest.raises(Crash):
        drive(engine, run_id, ANSWERS)
    assert crash.fired
    rec = engine.runs.step(run_id, "tie_devices")
    assert rec.status is StepStatus.running and len(rec.result["done"]) == n - 1
    assert rec.result["current"]["key"] == won["devices"][n - 1]
    engine.resume(run_id)
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed, run.error
    assert [r["key"] for r in run.values["tie_devices"]["results"]] == won["devices"]
    check_outcome(sandboxes, won)
