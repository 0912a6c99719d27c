"""`onboard-existing-client-billing-acronis` against the Acronis, Autotask and QuickBooks simulators.

Every existing client is onboarded once (one run each); a second run of every client
changes nothing; the invoice numbering stops a run before any contract when it would
collide with QuickBooks; a run killed right after a write resumes without repeating it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.sandbox import SandboxSet
from hub.sdk import ActionContext, MemoryKeyValueStore
from hub.workflow import RunStatus, StepStatus, WorkflowEngine

from .support import Crash, CrashAt, drive

pytestmark = pytest.mark.sandboxes(
    acronis={"size": 7, "seed": 3}, autotask={"size": 4, "seed": 3}, quickbooks={"size": 5, "seed": 3}
)

WORKFLOW = "onboard-existing-client-billing-acronis"
START = "2026-02-01"
GIB = 1024**3


def sim(sandboxes: SandboxSet, name: str = "acronis") -> Any:
    return sandboxes.sandboxes[name].control


def tenants(sandboxes: SandboxSet) -> dict[str, dict[str, Any]]:
    acronis = sim(sandboxes)
    return {tid: acronis.data.tenants[tid] for tid in acronis.customer_ids()}


def lacking_billing(sandboxes: SandboxSet) -> list[str]:
    acronis = sim(sandboxes)
    return [tid for tid in acronis.customer_ids() if not acronis.customer(tid)["Street"]]


def records_of_others(hub: Hub, sandboxes: SandboxSet) -> dict[str, str]:
    """For each client lacking billing information, what the PSA and QuickBooks hold (made here).

    The first gets a PSA company (address, phone) and a QuickBooks customer (invoice
    recipient, country); any others get nothing, so a person must give every field.
    """
    given: dict[str, str] = {}
    lacking = lacking_billing(sandboxes)
    first = tenants(sandboxes)[lacking[0]]
    hub.connector("autotask").create(
        "Companies",
        {"companyName": first["name"], "companyType": 1, "classification": 103, "phone": "518-555-0142",
         "ownerResourceID": 29682885, "isActive": True, "address1": "12 Quay Street", "city": "Hudson",
         "postalCode": "12534"},
    )  # fmt: skip
    hub.connector("quickbooks").create(
        "Customer",
        {"DisplayName": first["name"], "PrimaryEmailAddr": {"Address": "ap@quay.example"},
         "BillAddr": {"Line1": "PO Box 9", "City": "Hudson", "PostalCode": "12534", "Country": "USA"}},
    )  # fmt: skip
    given[lacking[0]] = "prefilled"
    return given


def answers(prefilled: bool) -> dict[str, Any]:
    billing = {} if prefilled else {
        "street": "1 Main Street", "zipcode": "12207", "city": "Albany", "country": "United States",
        "email": "accounts@client.example",
    }  # fmt: skip
    return {"billing_info": billing, "self_managed_profile": {}, "review_prices": {}}


def onboard_all(engine: WorkflowEngine, sandboxes: SandboxSet, prefilled: dict[str, str]) -> dict[str, str]:
    runs = {}
    for tenant_id in sim(sandboxes).customer_ids():
        run_id = engine.start(WORKFLOW, {"tenant": tenant_id, "contract_start": START})
        drive(engine, run_id, answers(tenant_id in prefilled))
        runs[tenant_id] = run_id
    return runs


def check_onboarded(sandboxes: SandboxSet) -> None:
    """Every client has billing information; every client using services bills them, once."""
    acronis = sim(sandboxes)
    products = {p["Id"]: p for p in acronis.data.products.values()}
    for tenant_id in acronis.customer_ids():
        customer = acronis.customer(tenant_id)
        assert customer["Street"] and customer["Email"] and customer["Country"], customer["Name"]
        used = {k: v for k, v in acronis.data.usage[tenant_id].items() if v}
        contracts = acronis.contracts_of(tenant_id)
        if not used:
            assert contracts == []
            continue
        assert len(contracts) == 1, customer["Name"]
        parts = contracts[0]["ContractParts"]
        billed = [products[p["Product"]]["Name"] for p in parts]
        assert len(billed) == len(set(billed)), f"{customer['Name']}: a product billed twice"
        if contracts[0]["Name"].endswith(" - Acronis services"):
            assert len(parts) == len(used)
            for part in parts:
                product = products[part["Product"]]
                assert part["Price"] == product["Price"]
                name = "adv_workstations" if product["Name"].startswith("Cyber Protect Advanced") else product["Name"]
                expected = used[name] if name != "storage" else -(-used[name] // GIB)
                assert part["Quantity"] == expected


def test_every_client_once_and_a_second_run_changes_nothing(
    hub: Hub, engine: WorkflowEngine, sandboxes: SandboxSet
) -> None:
    acronis = sim(sandboxes)
    seeded = {(kind, tid) for kind, tid, _p in acronis.seeded_gaps()}
    assert {k for k, _t in seeded} >= {"no_billing_information", "services_without_contract"}
    prefilled = records_of_others(hub, sandboxes)
    runs = onboard_all(engine, sandboxes, prefilled)
    assert all(engine.runs.get(r).status is RunStatus.completed for r in runs.values())
    check_onboarded(sandboxes)
    # the prefilled client got what the PSA and QuickBooks hold, nothing invented
    (tenant_id,) = prefilled
    customer = acronis.customer(tenant_id)
    assert (customer["Street"], customer["City"], customer["Zipcode"]) == ("12 Quay Street", "Hudson", "12534")
    assert (customer["Email"], customer["CountryDescription"], customer["PhoneNumber"]) == (
        "ap@quay.example", "United States", "518-555-0142"
    )
    made = [w for w in acronis.writes if w[1].endswith("/Contracts")]
    without = {tid for kind, tid in seeded if kind == "services_without_contract"}
    assert len(made) == len(without)
    # what is left for a person: only the contracts that bill other quantities than are used
    report = hub.connector("acronis").action("billing_gaps")
    left = report.run(report.params(), ActionContext("r", "s", Path("."), MemoryKeyValueStore()))["gaps"]
    differing = {(k, t) for k, t in seeded if k == "quantity_differs_from_usage"}
    assert {(g["kind"], g["tenant_id"]) for g in left} == differing

    writes = len(acronis.writes)
    for tenant_id in acronis.customer_ids():
        again = engine.start(WORKFLOW, {"tenant": tenant_id, "contract_start": START})
        run = engine.runs.get(again)
        assert run.status is RunStatus.completed, (run.current_step, run.error)
        for step in ("billing_info", "set_billing_info", "contract", "review_prices"):
            assert engine.runs.step(again, step).status is StepStatus.skipped
    assert len(acronis.writes) == writes, acronis.writes[writes:]


@pytest.mark.sandboxes(acronis={"size": 7, "seed": 3, "invoice_start": 2}, quickbooks={"size": 5, "seed": 3},
                       autotask={"size": 4, "seed": 3})  # fmt: skip
def test_colliding_invoice_numbers_stop_the_run_before_any_contract(
    engine: WorkflowEngine, sandboxes: SandboxSet
) -> None:
    acronis = sim(sandboxes)
    no_contract = next(t for kind, t, _p in acronis.seeded_gaps() if kind == "services_without_contract"
                       and acronis.customer(t)["Street"])  # fmt: skip
    run_id = engine.start(WORKFLOW, {"tenant": no_contract, "contract_start": START})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.failed and run.current_step == "numbering"
    assert "would number its next invoice 2" in (run.error or "")
    assert "set the billing entity's invoice start number above" in (run.error or "")
    assert acronis.contracts_of(no_contract) == []

    highest = run.values["accounting_numbers"]["highest_number"]
    assert highest >= 2
    acronis.set_invoice_start(highest + 1)  # the person fixes the numbering, then resumes
    engine.resume(run_id)
    drive(engine, run_id, {"review_prices": {}})
    assert engine.runs.get(run_id).values["numbering"]["next_number"] == highest + 1
    assert len(acronis.contracts_of(no_contract)) == 1


def test_a_run_killed_after_the_contract_is_made_resumes_without_a_second_one(
    engine: WorkflowEngine, sandboxes: SandboxSet
) -> None:
    acronis = sim(sandboxes)
    no_contract = next(t for kind, t, _p in acronis.seeded_gaps() if kind == "services_without_contract"
                       and acronis.customer(t)["Street"])  # fmt: skip
    crash = CrashAt(engine, "contract")
    with pytest.raises(Crash):
        engine.start(WORKFLOW, {"tenant": no_contract, "contract_start": START})
    assert crash.fired and crash.run_id
    assert engine.runs.step(crash.run_id, "contract").status is StepStatus.running
    engine.resume(crash.run_id)
    drive(engine, crash.run_id, {"review_prices": {}})
    (contract,) = acronis.contracts_of(no_contract)
    assert len(contract["ContractParts"]) == len([v for v in acronis.data.usage[no_contract].values() if v])


ALL_CLIENTS = "onboard-existing-clients-billing-acronis"


def answer_all(engine: WorkflowEngine, run_id: str, sandboxes: SandboxSet, prefilled: dict[str, str]) -> list[str]:
    """A person answers every client's waiting steps of the one run, in whatever order they wait."""
    asked: list[str] = []
    for _ in range(200):
        run = engine.runs.get(run_id)
        if run.status is not RunStatus.waiting:
            return asked
        step = run.current_step or ""
        tenant_id = step.split("[", 1)[1].split("]", 1)[0]
        given = answers(tenant_id in prefilled)
        asked.append(step)
        engine.confirm(run_id, step, values=given[step.rsplit(".", 1)[1]])
    raise AssertionError("the run kept waiting")


def test_every_client_in_one_run_and_a_second_run_changes_nothing(
    hub: Hub, engine: WorkflowEngine, sandboxes: SandboxSet
) -> None:
    acronis = sim(sandboxes)
    prefilled = records_of_others(hub, sandboxes)
    lacking = set(lacking_billing(sandboxes))
    run_id = engine.start(ALL_CLIENTS, {"contract_start": START})
    asked = answer_all(engine, run_id, sandboxes, prefilled)
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed, (run.current_step, run.error)
    # a form per client lacking billing information, each in its own item of the one run
    forms = {step.split("[", 1)[1].split("]", 1)[0] for step in asked if step.endswith(".billing_info")}
    assert forms == lacking and len(lacking) >= 2
    check_onboarded(sandboxes)

    writes = len(acronis.writes)
    again = engine.start(ALL_CLIENTS, {"contract_start": START})
    assert engine.runs.get(again).status is RunStatus.completed, "nothing waits on a person the second time"
    assert len(acronis.writes) == writes, acronis.writes[writes:]

