"""`hub sync rmm-devices` and `hub report uncovered-devices` against the Autotask simulator and each
RMM's (N-central, Datto RMM, NinjaOne), with the same assertions (the ``rmm`` fixture)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli
from tests.jobs.helpers import OWNER, add_company, autotask_sim, sync
from tests.jobs.rmm import rmm_sim

# 24 devices over 2 customers ("Acme Dental", "Globex Dental"); 8 Autotask companies
pytestmark = pytest.mark.sandboxes(
    autotask={"size": 8, "seed": 3},
    ncentral={"size": 24, "seed": 2, "alerts": 0},
    dattormm={"size": 24, "seed": 2, "alerts": 0},
    ninjaone={"size": 24, "seed": 2, "alerts": 0},
)


def items_by_name(sim: Any) -> dict[str, dict[str, Any]]:
    """Autotask configuration items by name (the seeded devices' names are unique)."""
    return {r["referenceTitle"]: r for r in sim.tables["ConfigurationItems"].records.values()}


def uncovered(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    code, out, err = run_cli(["report", "uncovered-devices", "--json"], capsys)
    assert out.strip(), err
    return code, json.loads(out)


def test_customers_link_by_normalized_name_and_devices_become_items_under_their_company(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], rmm: str
) -> None:
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    acme, globex = src.customers
    acme_name = src.customer_name(acme)
    company = add_company(sim, f"  {acme_name.upper()}, Inc. ")  # case, spacing, punctuation, suffix differ
    items_before = len(sim.tables["ConfigurationItems"].records)

    code, first = sync(capsys, "rmm-devices")
    assert code == 0 and first["status"] == "ok", first
    acme_devices = set(src.devices_of(acme))
    globex_only = set(src.devices_of(globex))
    assert first["created"] == len(acme_devices) and first["skipped"] == 1 + len(globex_only)
    assert len(sim.tables["Companies"].records) == 8 + 1, "a company was created: linking must never create"
    # the unmatched customer is reported for a person, not invented
    assert any(f"customers {globex}" in line and "create or link it" in line for line in first["reports"])
    created = [line for line in first["reports"] if "ConfigurationItems" in line]
    assert len(created) == len(acme_devices) and all("review its contract" in line for line in created)

    items = items_by_name(sim)
    assert len(sim.tables["ConfigurationItems"].records) == items_before + len(acme_devices)
    for device_id in acme_devices:
        item = items[src.device_name(device_id)]
        assert item["companyID"] == company
        assert (item.get("serialNumber") or None) == src.serial(device_id)
        assert item["isActive"] is True and item["productID"] == 232

    code, again = sync(capsys, "rmm-devices", "--full-refresh")
    assert code == 0 and (again["created"], again["updated"]) == (0, 0)
    assert again["unchanged"] == 1 + len(acme_devices)

    # once the second company exists, the next run links it and creates its devices
    add_company(sim, src.customer_name(globex).lower())
    code, third = sync(capsys, "rmm-devices", "--full-refresh")
    assert code == 0 and third["created"] == len(globex_only)
    assert not [line for line in third.get("reports", []) if "create or link" in line]


def test_dry_run_plans_links_and_items_and_writes_nothing(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], rmm: str
) -> None:
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    acme = src.customers[0]
    add_company(sim, src.customer_name(acme))
    items = len(sim.tables["ConfigurationItems"].records)
    code, plan = sync(capsys, "rmm-devices", "--dry-run")
    assert code == 0 and plan["dry_run"] is True
    assert [e["action"] for e in plan["plan"]].count("link") == 1
    assert plan["created"] == len(src.devices_of(acme)), "devices of a customer linked in the dry run"
    assert len(sim.tables["ConfigurationItems"].records) == items
    code, real = sync(capsys, "rmm-devices")
    assert code == 0 and real["created"] == plan["created"]


def test_uncovered_devices_lists_managed_devices_without_a_recurring_contract(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], rmm: str
) -> None:
    sim, src = autotask_sim(sandboxes), rmm_sim(sandboxes, rmm)
    acme = src.customers[0]
    company = add_company(sim, src.customer_name(acme), classification=101)  # break/fix, but RMM devices
    code, _ = sync(capsys, "rmm-devices")
    assert code == 0

    code, rows = uncovered(capsys)
    assert code == 1
    from_rmm = [r for r in rows if r["rmm_device"]]
    assert {row["rmm_device"] for row in from_rmm} == {str(d) for d in src.devices_of(acme)}
    assert all(r["company"] == str(company) for r in from_rmm)
    assert all("no active recurring-service contract" in r["reason"] for r in from_rmm)
    # seeded items of managed-services companies (MS/MR) without a contract are listed too; break/fix ones not
    managed = {c["id"] for c in sim.tables["Companies"].records.values() if c["classification"] in (103, 104)}
    seeded = {str(r["id"]) for r in sim.tables["ConfigurationItems"].records.values()
              if r["companyID"] in managed and r["isActive"]}  # fmt: skip
    assert {r["configuration_item"] for r in rows if not r["rmm_device"]} == seeded

    # a recurring-service contract of the company, attached to the devices, covers them
    contract = sim.write("Contracts", {"companyID": company, "contractName": "Managed Services", "contractType": 7,
                                       "status": 1, "startDate": "2024-01-01T00:00:00Z",
                                       "endDate": "2099-12-31T00:00:00Z"}, create=True, actor=OWNER)  # fmt: skip
    attach = [r for r in from_rmm][:-1]
    for row in attach:
        sim.write("ConfigurationItems", {"id": int(row["configuration_item"]), "contractID": contract},
                  create=False, actor=OWNER)  # fmt: skip
    code, rows = uncovered(capsys)
    left = [r for r in rows if r["rmm_device"]]
    assert [r["configuration_item"] for r in left] == [from_rmm[-1]["configuration_item"]]
    assert "attached to no contract; the company has 'Managed Services'" in left[0]["reason"]

    # an inactive contract does not cover
    sim.write("Contracts", {"id": contract, "status": 0}, create=False, actor=OWNER)
    code, rows = uncovered(capsys)
    assert len([r for r in rows if r["rmm_device"]]) == len(from_rmm)
    assert any("is not an active recurring-service contract" in r["reason"] for r in rows)


def test_uncovered_devices_exits_0_when_every_managed_device_is_covered(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = autotask_sim(sandboxes)
    for record in list(sim.tables["Companies"].records.values()):
        sim.write("Companies", {"id": record["id"], "classification": 101}, create=False, actor=OWNER)
    code, out, _ = run_cli(["report", "uncovered-devices"], capsys)
    assert code == 0 and "every managed-services device is covered" in out
    code, rows = uncovered(capsys)
    assert (code, rows) == (0, [])
