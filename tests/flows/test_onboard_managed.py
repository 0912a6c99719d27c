"""`onboard-managed-services-customer` against the Autotask simulator, and killed mid-way."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from hub.app import Hub
from hub.sandbox import SandboxSet
from hub.workflow import RunStatus, StepStatus, WorkflowEngine
from hub.workflow.preview import preview

from .support import MS, Crash, CrashAt, CrashInForeach, Psa, drive, vendor_state

pytestmark = pytest.mark.sandboxes(autotask={"size": 3})

BF = 102
TEAM = [29682886, 29682887]
SALES_REP = 29682885


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
    # the sales rep was on the account team while selling; delivery takes over
    hub.connector("autotask").create("CompanyTeams", {"companyID": int(company), "resourceID": 29682885})
    return {
        "parent": parent,
        "company": company,
        "owner": owner,
        "manager": manager,
        "books": books,
        "devices": devices,
    }


def inputs(won: dict[str, Any], **extra: str) -> dict[str, str]:
    return extra | {
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


#: every step is automatic now; nothing waits on a person
ANSWERS: dict[str, Any] = {}


def simulator(sandboxes: SandboxSet) -> Any:
    return sandboxes.sandboxes["autotask"].extra["simulator"]


def records(sandboxes: SandboxSet, entity: str) -> dict[int, dict[str, Any]]:
    return dict(simulator(sandboxes).tables[entity].records)


def team(sandboxes: SandboxSet, company: str) -> list[int]:
    rows = records(sandboxes, "CompanyTeams").values()
    return sorted(r["resourceID"] for r in rows if r["companyID"] == int(company))


def portal_users(sandboxes: SandboxSet, contact: str) -> list[dict[str, Any]]:
    return [u for u in records(sandboxes, "ClientPortalUsers").values() if u["contactID"] == int(contact)]


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
    assert team(sandboxes, won["company"]) == sorted([SALES_REP, *TEAM])  # each member once; nobody removed
    (user,) = portal_users(sandboxes, won["books"])  # one portal user, never two
    assert (user["userName"], user["securityLevel"], user["isClientPortalActive"]) == ("liam@example.com", 1, True)
    assert simulator(sandboxes).portal_passwords[user["id"]]  # a password was set


def stored_text(hub: Hub) -> str:
    """Everything the hub keeps in its state store (runs, steps, audit log, key-values), as text."""
    with hub.store.engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        rows = [list(r) for t in tables for r in conn.execute(sa.text(f'SELECT * FROM "{t}"'))]
    return json.dumps(rows, default=str)


def test_runs_end_to_end(engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any]) -> None:
    run_id = engine.start("onboard-managed-services-customer", inputs(won))
    drive(engine, run_id, ANSWERS)
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    everyone = run.values["all_customers"]  # the sub-workflow's steps, by id
    assert everyone["demote_primaries"]["count"] == 1  # Olga; Wei is the one kept
    assert run.values["tie_devices"]["count"] == 3
    assert everyone["account_team"]["added"] == TEAM and everyone["account_team"]["removed"] == []
    assert engine.runs.step(run_id, "all_customers.primary_contact").status is StepStatus.skipped  # Wei already
    portal = everyone["client_portal"]
    assert (portal["outcome"], portal["security_level"], portal["password_source"]) == ("created", "Basic", "generated")
    check_outcome(sandboxes, won)


def test_the_portal_password_is_kept_nowhere(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, won: dict[str, Any]
) -> None:
    run_id = engine.start("onboard-managed-services-customer", inputs(won))
    drive(engine, run_id, ANSWERS)
    (user,) = portal_users(sandboxes, won["books"])
    password = simulator(sandboxes).portal_passwords[user["id"]]
    text = stored_text(hub)
    assert "liam@example.com" in text  # the store was read: the user name is in the step's outputs
    assert password not in text


def test_a_second_run_changes_nothing(engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any]) -> None:
    drive(engine, engine.start("onboard-managed-services-customer", inputs(won)), ANSWERS)
    before = vendor_state(sandboxes)
    again = engine.start("onboard-managed-services-customer", inputs(won))
    drive(engine, again, ANSWERS)
    assert vendor_state(sandboxes) == before  # not one record written, in any system
    values = engine.runs.get(again).values
    assert values["all_customers"]["account_team"]["changed"] is False
    assert values["all_customers"]["client_portal"]["outcome"] == "already active"
    assert engine.runs.step(again, "contract").status is StepStatus.skipped  # found by its name
    check_outcome(sandboxes, won)


def test_preview_shows_the_writes_before_and_none_after_a_run(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, won: dict[str, Any]
) -> None:
    before = vendor_state(sandboxes)
    definition = engine.library.get("onboard-managed-services-customer")
    plan = preview(hub, definition, inputs(won))
    assert vendor_state(sandboxes) == before and engine.runs.recent() == []  # nothing written
    steps = {s["step"]: s for s in plan["steps"]}
    assert plan["complete"] and plan["systems"] == ["autotask"]
    assert steps["contract"]["operation"] == "create"
    assert steps["contract"]["changes"]["contractName"] == "Harbor Dental - Managed Services"
    assert steps["all_customers.invoice_settings"]["changes"]["taxID"] == "NY-12-3456789"
    assert [s for s in plan["steps"] if s["step"].startswith("tie_devices[")] and steps["all_customers.account_team"]
    drive(engine, engine.start("onboard-managed-services-customer", inputs(won)), ANSWERS)
    again = preview(hub, definition, inputs(won))
    writes = [s for s in again["steps"] if s["what"] == "write"]
    assert writes == []  # every update would change nothing, the contract is found: only actions remain
    assert {s["what"] for s in again["steps"]} >= {"read", "unchanged", "skip", "action"}


def test_the_steps_for_all_customers_run_alone_and_twice_change_nothing(
    engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any]
) -> None:
    given = {"company_id": won["company"], "account_team": "29682886", "primary_contact_id": won["owner"],
             "billing_contact": "Liam Tester"}  # fmt: skip
    drive(engine, engine.start("onboard-all-customers", given), ANSWERS)
    contacts = {c["id"]: c for c in records(sandboxes, "Contacts").values() if c["companyID"] == int(won["company"])}
    assert [cid for cid, c in contacts.items() if c["primaryContact"]] == [int(won["owner"])]
    company = records(sandboxes, "Companies")[int(won["company"])]
    assert company["billToAttention"] == "Liam Tester" and company["taxID"] in ("", None)  # only what was given
    before = vendor_state(sandboxes)
    drive(engine, engine.start("onboard-all-customers", given), ANSWERS)
    assert vendor_state(sandboxes) == before


def test_a_run_without_a_value_never_blanks_it(
    engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any]
) -> None:
    drive(engine, engine.start("onboard-managed-services-customer", inputs(won)), ANSWERS)
    given = {k: v for k, v in inputs(won).items() if k != "tax_id"}
    drive(engine, engine.start("onboard-managed-services-customer", given), ANSWERS)
    assert records(sandboxes, "Companies")[int(won["company"])]["taxID"] == "NY-12-3456789"


def test_an_exact_team_removes_the_members_not_listed(
    engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any]
) -> None:
    run_id = engine.start("onboard-managed-services-customer", inputs(won, account_team_exact="yes"))
    drive(engine, run_id, ANSWERS)
    assert engine.runs.get(run_id).values["all_customers"]["account_team"]["removed"] == [SALES_REP]
    assert team(sandboxes, won["company"]) == TEAM


def test_a_deactivated_portal_user_is_reactivated(
    engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet, won: dict[str, Any]
) -> None:
    at = hub.connector("autotask")
    user = at.create(
        "ClientPortalUsers",
        {"contactID": int(won["books"]), "userName": "liam.old@example.com", "securityLevel": 3,
         "isClientPortalActive": False, "dateFormat": 2, "timeFormat": 2, "numberFormat": 2},
    ).id  # fmt: skip
    given = {**inputs(won), "portal_user_name": "liam@example.com"}
    run_id = engine.start("onboard-managed-services-customer", given)
    drive(engine, run_id, ANSWERS)
    assert engine.runs.get(run_id).values["all_customers"]["client_portal"]["outcome"] == "re-activated"
    (after,) = portal_users(sandboxes, won["books"])
    assert after["id"] == int(user)
    assert (after["isClientPortalActive"], after["securityLevel"], after["userName"]) == (True, 1, "liam@example.com")
    assert after["dateFormat"] == 2  # formats the workflow does not name are left alone


def test_optional_steps_are_skipped(engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any]) -> None:
    skip = ("portal_contact_id", "parent_company_id", "account_team")
    given = {k: v for k, v in inputs(won).items() if k not in skip}
    run_id = engine.start("onboard-managed-services-customer", given)
    drive(engine, run_id, ANSWERS)
    for step in ("account_team", "client_portal", "parent_organization"):
        assert engine.runs.step(run_id, f"all_customers.{step}").status is StepStatus.skipped
    assert records(sandboxes, "Companies")[int(won["company"])]["parentCompanyID"] is None
    assert team(sandboxes, won["company"]) == [SALES_REP]  # no team given: the team is left alone
    assert portal_users(sandboxes, won["books"]) == []


@pytest.mark.parametrize(
    "step",
    [
        "all_customers.account_team",
        "all_customers.demote_primaries",
        "all_customers.client_portal",
        "all_customers.invoice_settings",
        "contract",
    ],
)
def test_killed_after_a_step_resumes_without_repeating_it(
    engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any], step: str
) -> None:
    crash = CrashAt(engine, step)
    with pytest.raises(Crash):  # no step waits on a person: the run dies inside start
        engine.start("onboard-managed-services-customer", inputs(won))
    run_id = crash.run_id
    assert run_id is not None and engine.runs.step(run_id, step).status is StepStatus.running
    engine.resume(run_id)
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed, run.error
    check_outcome(sandboxes, won)  # one of each team member and one portal user, never two


@pytest.mark.parametrize("n", [1, 2])
def test_killed_inside_the_device_loop_resumes_with_the_next_device(
    engine: WorkflowEngine, sandboxes: SandboxSet, won: dict[str, Any], n: int
) -> None:
    crash = CrashInForeach(engine, "tie_devices", n)
    with pytest.raises(Crash):
        engine.start("onboard-managed-services-customer", inputs(won))
    run_id = crash.run_id
    assert crash.fired and run_id is not None
    rec = engine.runs.step(run_id, "tie_devices")
    assert rec.status is StepStatus.running and len(rec.result["done"]) == n - 1
    assert rec.result["current"]["key"] == won["devices"][n - 1]
    engine.resume(run_id)
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed, run.error
    assert [r["key"] for r in run.values["tie_devices"]["results"]] == won["devices"]
    check_outcome(sandboxes, won)
