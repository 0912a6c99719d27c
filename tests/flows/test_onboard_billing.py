"""`onboard-existing-client-billing` over the seeded Autotask and QuickBooks simulators, and killed mid-loop."""

from __future__ import annotations

from typing import Any

import pytest

from hub.app import Hub
from hub.errors import ConfigError
from hub.sandbox import SandboxSet
from hub.workflow import RunStatus, StepStatus, WorkflowEngine

from .support import Crash, CrashAt, CrashInForeach, vendor_state

pytestmark = pytest.mark.sandboxes(autotask={"size": 20, "seed": 4}, quickbooks={"size": 0})

INPUTS = {"contract_start": "2026-01-01", "contract_end": "2026-12-31"}
#: service name -> the simulator's Services id (sim_data.SERVICES, from 12)
SERVICE_IDS = {"Managed Workstation": 12, "Managed Server": 13, "Network Device Monitoring": 14}


def records(sandboxes: SandboxSet, entity: str) -> dict[int, dict[str, Any]]:
    return dict(sandboxes.sandboxes["autotask"].extra["simulator"].tables[entity].records)


def expected(sandboxes: SandboxSet) -> tuple[set[int], set[int]]:
    """Before the run: clients lacking billing information, and clients with services but no contract."""
    clients = {c["id"]: c for c in records(sandboxes, "Companies").values() if c["companyType"] == 1 and c["isActive"]}
    lacking = {i for i, c in clients.items() if not c["billingAddress1"] or not c["billToAttention"]}
    served = {d["companyID"] for d in records(sandboxes, "ConfigurationItems").values() if d["isActive"]}
    covered = {c["companyID"] for c in records(sandboxes, "Contracts").values() if c["status"] == 1}
    return lacking, (served & set(clients)) - covered


def answer(engine: WorkflowEngine, run_id: str, values: dict[str, str] | None = None) -> list[str]:
    """The office admin fills each client's form (the given values, else keeps the prefill), then the review."""
    asked: list[str] = []
    for _ in range(100):
        run = engine.runs.get(run_id)
        if run.status is not RunStatus.waiting:
            return asked
        step = run.current_step or ""
        asked.append(step)
        engine.confirm(run_id, step, values=values if step.endswith(".ask") else {})
    raise AssertionError("the run kept waiting")


def check_contracts(sandboxes: SandboxSet, uncovered: set[int]) -> None:
    made = [c for c in records(sandboxes, "Contracts").values() if c["contractName"].endswith(" - Services")]
    assert sorted(c["companyID"] for c in made) == sorted(uncovered)  # one each, none twice
    assert all((c["contractType"], c["status"], c["serviceLevelAgreementID"]) == (7, 1, 2) for c in made)
    services = records(sandboxes, "ContractServices")
    network = "Network Device Monitoring"
    types = {1: "Managed Workstation", 2: "Managed Server", 3: network, 4: network}
    for contract in made:
        billed = {s["serviceID"]: s for s in services.values() if s["contractID"] == contract["id"]}
        assert sorted(billed) == sorted(SERVICE_IDS.values())  # each service once, at the catalog price
        devices = [d for d in records(sandboxes, "ConfigurationItems").values()
                   if d["companyID"] == contract["companyID"] and d["isActive"]]  # fmt: skip
        assert devices and all(d["contractID"] == contract["id"] for d in devices)  # covered: compliance holds
        for device in devices:
            service = billed[SERVICE_IDS[types[device["configurationItemType"]]]]
            assert device["contractServiceID"] == service["id"]


def test_billing_information_is_asked_never_invented(engine: WorkflowEngine, hub: Hub, sandboxes: SandboxSet) -> None:
    lacking, uncovered = expected(sandboxes)
    assert lacking and len(uncovered) >= 2  # the seeded data has work to do
    first = sorted(lacking)[0]
    books = hub.connector("quickbooks").create(
        "Customer",
        {"DisplayName": records(sandboxes, "Companies")[first]["companyName"],
         "BillAddr": {"Line1": "PO Box 7", "City": "Troy", "CountrySubDivisionCode": "NY", "PostalCode": "12180"}},
    )  # fmt: skip
    assert books.id
    run_id = engine.start("onboard-existing-client-billing", INPUTS)
    forms = [s for s in engine.runs.steps(run_id) if s.endswith(".ask")]
    assert sorted(forms) == sorted(f"billing_info[{i}].ask" for i in lacking)  # one form per client, all at once
    form = engine.runs.step(run_id, f"billing_info[{first}].ask").waiting_on
    prefill = {k: f.get("default") for k, f in form["fields"].items()}
    company = records(sandboxes, "Companies")[first]
    # the PSA's own billing city, state and zip first, the street from QuickBooks; no attention invented
    assert prefill == {"street": "PO Box 7", "city": company["billToCity"], "state": company["billToState"],
                       "postal_code": company["billToZipCode"], "attention": None}  # fmt: skip
    answer(engine, run_id)  # the admin keeps the prefill and enters no attention
    assert engine.runs.get(run_id).status is RunStatus.completed
    after = records(sandboxes, "Companies")
    assert after[first]["billingAddress1"] == "PO Box 7"
    for cid in lacking:
        # nothing nobody gave: no attention, and no account address copied into the billing address
        assert after[cid]["billToAttention"] == "" and after[cid]["billingAddress1"] in ("", "PO Box 7")
    check_contracts(sandboxes, uncovered)


def test_runs_end_to_end_and_again_changes_nothing(engine: WorkflowEngine, sandboxes: SandboxSet) -> None:
    lacking, uncovered = expected(sandboxes)
    given = {"street": "1 Main St", "attention": "Accounts Payable Dept."}
    run_id = engine.start("onboard-existing-client-billing", INPUTS)
    asked = answer(engine, run_id, given)
    assert asked[-1] == "review_prices"
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    assert run.values["billing_info"]["count"] == len(lacking)
    assert run.values["create_contracts"]["count"] == len(uncovered)
    companies = records(sandboxes, "Companies")
    assert all(companies[c]["billToAttention"] == "Accounts Payable Dept." for c in lacking)  # as the admin said
    check_contracts(sandboxes, uncovered)

    before = vendor_state(sandboxes)
    again = engine.start("onboard-existing-client-billing", INPUTS)
    assert answer(engine, again, given) == []  # every client has what it needs now: nothing to ask
    run = engine.runs.get(again)
    assert run.status is RunStatus.completed
    assert (run.values["billing_info"]["count"], run.values["create_contracts"]["count"]) == (0, 0)
    assert engine.runs.step(again, "review_prices").status is StepStatus.skipped
    assert vendor_state(sandboxes) == before


def test_the_services_come_from_settings_without_copying_the_file(
    engine: WorkflowEngine, sandboxes: SandboxSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lacking, uncovered = expected(sandboxes)
    given = {"services": ["Backup"], "device_services": {}}
    monkeypatch.setattr(engine.hub.settings, "workflow_vars", {"onboard-existing-client-billing": given})
    run_id = engine.start("onboard-existing-client-billing", INPUTS)
    answer(engine, run_id, {"attention": "AP"})
    made = [c["id"] for c in records(sandboxes, "Contracts").values() if c["contractName"].endswith(" - Services")]
    assert len(made) == len(uncovered)
    billed = [s["serviceID"] for s in records(sandboxes, "ContractServices").values() if s["contractID"] in made]
    assert billed == [15] * len(made)  # Backup only, as the setting says
    monkeypatch.setattr(engine.hub.settings, "workflow_vars", {"onboard-existing-client-billing": {"service": []}})
    with pytest.raises(ConfigError, match="HUB_WORKFLOW_VARS: workflow onboard-existing-client-billing has no var"):
        WorkflowEngine(engine.hub).start("onboard-existing-client-billing", INPUTS)


@pytest.mark.parametrize("step", ["billing_info[{lacking}].save", "create_contracts[{uncovered}].contract",
                                  "create_contracts[{uncovered}].services", "create_contracts[{uncovered}].tie"])
def test_killed_inside_a_loop_resumes_without_repeating(
    engine: WorkflowEngine, sandboxes: SandboxSet, step: str
) -> None:
    lacking, uncovered = expected(sandboxes)
    key = step.format(lacking=sorted(lacking)[0], uncovered=sorted(uncovered)[0])
    crash = CrashInForeach(engine, key, 1) if key.endswith(".tie") else CrashAt(engine, key)
    run_id = engine.start("onboard-existing-client-billing", INPUTS)
    with pytest.raises(Crash):
        answer(engine, run_id, {"attention": "AP"})
    assert crash.fired and engine.runs.step(run_id, key).status is StepStatus.running
    engine.resume(run_id)
    answer(engine, run_id, {"attention": "AP"})
    assert engine.runs.get(run_id).status is RunStatus.completed
    check_contracts(sandboxes, uncovered)
    assert all(records(sandboxes, "Companies")[c]["billToAttention"] == "AP" for c in lacking)
