"""`onboard-existing-client-billing` over the seeded Autotask simulator, and killed mid-loop."""

from __future__ import annotations

from typing import Any

import pytest

from hub.sandbox import SandboxSet
from hub.workflow import RunStatus, StepStatus, WorkflowEngine

from .support import Crash, CrashInForeach, drive

pytestmark = pytest.mark.sandboxes(autotask={"size": 20, "seed": 4})

INPUTS = {"contract_start": "2026-01-01", "contract_end": "2026-12-31"}


def records(sandboxes: SandboxSet, entity: str) -> dict[int, dict[str, Any]]:
    return dict(sandboxes.sandboxes["autotask"].extra["simulator"].tables[entity].records)


def expected(sandboxes: SandboxSet) -> tuple[set[int], set[int]]:
    """Before the run: clients lacking billing information, and clients with services but no contract."""
    clients = {c["id"]: c for c in records(sandboxes, "Companies").values() if c["companyType"] == 1 and c["isActive"]}
    lacking = {i for i, c in clients.items() if not c["billingAddress1"] or not c["billToAttention"]}
    served = {d["companyID"] for d in records(sandboxes, "ConfigurationItems").values() if d["isActive"]}
    covered = {c["companyID"] for c in records(sandboxes, "Contracts").values() if c["status"] == 1}
    return lacking, (served & set(clients)) - covered


def check_outcome(sandboxes: SandboxSet, lacking: set[int], uncovered: set[int]) -> None:
    companies = records(sandboxes, "Companies")
    for cid in lacking:
        c = companies[cid]
        assert c["billingAddress1"] == c["address1"] and c["billToAttention"] == "Accounts Payable"
        assert c["billToZipCode"] == c["postalCode"]
    made = [c for c in records(sandboxes, "Contracts").values() if c["contractName"].endswith(" - Services")]
    assert sorted(c["companyID"] for c in made) == sorted(uncovered)  # one each, none twice
    assert all((c["contractType"], c["status"], c["serviceLevelAgreementID"]) == (7, 1, 2) for c in made)


def test_runs_end_to_end_and_again_changes_nothing(engine: WorkflowEngine, sandboxes: SandboxSet) -> None:
    lacking, uncovered = expected(sandboxes)
    assert lacking and len(uncovered) >= 2  # the seeded data has work to do
    run_id = engine.start("onboard-existing-client-billing", INPUTS)
    drive(engine, run_id, {"review_prices": {}})
    run = engine.runs.get(run_id)
    assert run.status is RunStatus.completed
    assert run.values["billing_info"]["count"] == len(lacking)
    assert run.values["create_contracts"]["count"] == len(uncovered)
    check_outcome(sandboxes, lacking, uncovered)

    again = engine.start("onboard-existing-client-billing", INPUTS)
    run = engine.runs.get(again)
    assert run.status is RunStatus.completed
    assert (run.values["billing_info"]["count"], run.values["create_contracts"]["count"]) == (0, 0)
    assert engine.runs.step(again, "review_prices").status is StepStatus.skipped
    check_outcome(sandboxes, lacking, uncovered)


@pytest.mark.parametrize(("step", "n"), [("billing_info", 2), ("create_contracts", 1), ("create_contracts", 2)])
def test_killed_inside_a_loop_resumes_without_repeating(
    engine: WorkflowEngine, sandboxes: SandboxSet, step: str, n: int
) -> None:
    lacking, uncovered = expected(sandboxes)
    crash = CrashInForeach(engine, step, n)
    with pytest.raises(Crash):
        engine.start("onboard-existing-client-billing", INPUTS)
    assert crash.fired
    (run,) = engine.runs.recent()
    assert engine.runs.step(run.id, step).status is StepStatus.running
    engine.resume(run.id)
    drive(engine, run.id, {"review_prices": {}})
    check_outcome(sandboxes, lacking, uncovered)
