"""A first run on a real-like tenant: `hub check` names what to set, then all four jobs run clean.

The Autotask simulator plays a database unlike its sandbox (see connectors/autotask/
sim_tenant.py): other picklist codes and resource, role and product ids, a queue,
source and status named otherwise, UDFs missing, classifications the mapping does not
know ("CM", an inactive "Gold"), two companies named alike. N-central has devices at
sites and other org unit and device ids; IT Glue's Site Summaries carry an uploaded file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli
from tests.jobs.helpers import autotask_sim

pytestmark = [
    pytest.mark.slow,
    pytest.mark.sandboxes(
        autotask={"size": 60, "seed": 4, "profile": "real-like"},
        itglue={"size": 8, "seed": 3},
        ncentral={"size": 50, "seed": 3, "alerts": 0, "id_base": 4_200_000},
        quickbooks={"size": 4, "seed": 2},
    ),
]

WORKFLOWS = Path(__file__).resolve().parents[2] / "hub" / "workflows"


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(["check", "autotask", "--json", *args], capsys)
    assert out.strip(), err[-2000:]
    return code, json.loads(out)


def sync(capsys: pytest.CaptureFixture[str], job: str) -> dict[str, Any]:
    code, out, err = run_cli(["sync", job, "--json"], capsys)
    assert out.strip(), err[-2000:]
    summary = json.loads(out)
    assert code == 0 and summary["status"] == "ok", (job, summary, err[-2000:])
    assert summary["failed"] == 0 and summary["conflicts"] == 0, (job, summary)
    return summary


def missing(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["what"]: f for f in report["findings"] if not f["ok"] and f["required"]}


def company(sim: Any, name: str) -> int:
    """A customer company in the tenant's own codes (what a person there would create)."""
    db = sim.tenant
    types = {label: code for code, label in db.schemas["Companies"].picklists["companyType"].items()}
    body = {"companyName": name, "companyType": types["Customer"], "phone": "02 9876 5432",
            "ownerResourceID": db.technicians[0]}  # fmt: skip
    return int(sim.write("Companies", body, create=True, actor=db.technicians[0]))


def test_hub_check_names_what_to_set_then_every_job_runs_clean(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sim, nc = autotask_sim(sandboxes), sandboxes.control("ncentral")
    monkeypatch.setenv("HUB_PHONE_REGION", "AU")

    # 1. before anything: hub check says what this database lacks, and where it comes from
    code, report = check(capsys)
    gaps = missing(report)
    assert code == 1 and not report["ready"]
    assert gaps["Tickets.queueID 'Monitoring Alert'"]["source"] == "setting HUB_RMM_ALERTS__QUEUE"
    assert "'RMM Alerts'" in gaps["Tickets.queueID 'Monitoring Alert'"]["detail"]
    assert "HUB_AUTOTASK__DEVICE_PRODUCT" in gaps["product of new configuration items"]["fix"]
    assert gaps["Companies.UDF 'Site Summary URL'"]["fixable"]
    assert "Tickets.assignedResourceID 'Service Technician'" in gaps  # the workflow's technician

    # 2. what it named: the settings, a copy of the workflow naming this database's people ...
    settings = {
        "HUB_RMM_ALERTS__QUEUE": "RMM Alerts",
        "HUB_RMM_ALERTS__SOURCE": "Monitoring",
        "HUB_RMM_ALERTS__AUTO_RESOLVED_STATUS": "Resolved by RMM",
        "HUB_AUTOTASK__DEVICE_PRODUCT": "Workstation - Managed",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    flows = tmp_path / "workflows"
    flows.mkdir()
    text = (WORKFLOWS / "new-breakfix-customer.yaml").read_text()
    text = re.sub(r"default_technician: .*", "default_technician: Priya Raman", text)
    (flows / "new-breakfix-customer.yaml").write_text(text)
    monkeypatch.setenv("HUB_WORKFLOWS_DIR", str(flows))
    # ... and --fix for what the API can create (UDFs, their values, a role)
    code, fixed = check(capsys, "--fix")
    assert any("UDF 'Site Summary URL'" in line for line in fixed["created"])
    assert any("role 'Technician'" in line for line in fixed["created"])
    code, report = check(capsys)
    assert (code, report["ready"], missing(report)) == (0, True, {})

    # 3. the four jobs, clean
    docs = sync(capsys, "psa-to-docs")
    assert docs["unmapped_values"] > 0  # the "CM" and "Gold" classifications: data, not errors
    itglue = sandboxes.control("itglue")
    names = [r["attributes"]["name"] for r in itglue.sim.data.organizations.rows.values()]
    assert names.count("Okafor Architecture Pty Ltd") == names.count("Okafor Architecture GmbH") == 1
    assert any("possible duplicate" in line for line in docs.get("reports", []))

    sync(capsys, "accounting-recipients")

    linked = {c: company(sim, nc.org_units[c]["orgUnitName"]) for c in nc.customer_ids}
    devices = sync(capsys, "rmm-devices")
    assert devices["created"] == len(nc.devices)
    products = {p["name"]: pid for pid, p in sim.tenant.products.items()}
    items = {r["serialNumber"]: r for r in sim.tables["ConfigurationItems"].records.values() if r.get("serialNumber")}
    assert {items[nc.serials[d]]["productID"] for d in nc.devices} == {products["Workstation - Managed"]}

    device = next(d for d, v in sorted(nc.devices.items()) if v["siteId"])  # at a site
    task = nc.raise_alert(device, "Disk Space", "C:", "Failed")
    opened = sync(capsys, "rmm-alerts")
    assert opened["created"] == 1
    tickets = sim.tables["Tickets"].records.values()
    [ticket] = [t for t in tickets if (t.get("externalID") or "").startswith("ncentral|")]
    codes = sim.tenant.schemas["Tickets"].picklists
    assert ticket["companyID"] == linked[nc.devices[device]["customerId"]]
    assert ticket["configurationItemID"] == items[nc.serials[device]]["id"]
    assert codes["queueID"][ticket["queueID"]] == "RMM Alerts" and codes["source"][ticket["source"]] == "Monitoring"
    nc.clear_alert(task)
    cleared = sync(capsys, "rmm-alerts")
    assert cleared["updated"] == 1
    assert codes["status"][sim.get("Tickets", ticket["id"])["status"]] == "Resolved by RMM"
