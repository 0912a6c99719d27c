"""`hub sync rmm-alerts` with N-central specifics: devices at sites, the MSP's time zone,
and a ticket label the PSA lacks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli
from tests.jobs.helpers import add_company, autotask_sim, sync
from tests.jobs.test_rmm_alerts import alert_tickets, poll

pytestmark = pytest.mark.sandboxes(autotask={"size": 4, "seed": 3}, ncentral={"size": 24, "seed": 2, "alerts": 0})


def link(sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], customers: int = 2) -> dict[Any, int]:
    """Autotask companies named like the first ``customers`` N-central customers, then rmm-devices."""
    sim, nc = autotask_sim(sandboxes), sandboxes.control("ncentral")
    companies = {c: add_company(sim, nc.org_units[c]["orgUnitName"]) for c in nc.customer_ids[:customers]}
    code, summary = sync(capsys, "rmm-devices")
    assert code == 0, summary
    return companies


def key(device: int, service: str, condition: str = "default") -> str:
    return f"ncentral|{device}|{service.lower()}|{condition.lower()}"


@pytest.mark.sandboxes(autotask={"size": 4, "seed": 3}, ncentral={"size": 24, "seed": 3, "alerts": 0})
def test_an_alert_on_a_device_at_a_site_opens_a_ticket_under_the_customer_s_company(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, nc = autotask_sim(sandboxes), sandboxes.control("ncentral")
    companies = link(sandboxes, capsys)
    device = next(d for d, v in sorted(nc.devices.items()) if v["siteId"])  # a device at a site
    customer, site = nc.devices[device]["customerId"], nc.devices[device]["siteId"]
    task = nc.raise_alert(device, "Disk Space", "C:", "Failed")
    assert nc.active_issue(task)["orgUnitId"] == site  # N-central names the site, not the customer

    summary = poll(capsys)
    assert (summary["created"], summary["failed"]) == (1, 0)
    [ticket] = alert_tickets(sim)[key(device, "Disk Space", "C:")]
    assert ticket["companyID"] == companies[customer]
    items = {r["serialNumber"]: r["id"] for r in sim.tables["ConfigurationItems"].records.values()}
    assert ticket["configurationItemID"] == items[nc.serials[device]]  # rmm-devices linked it too


def test_the_ticket_says_when_the_alert_began_in_the_msp_s_time_zone(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("HUB_TIMEZONE", "America/New_York")
    sim, nc = autotask_sim(sandboxes), sandboxes.control("ncentral")
    link(sandboxes, capsys)
    device = nc.devices_by_org_unit[nc.customer_ids[0]][0]
    task = nc.raise_alert(device, "Disk Space", "C:", "Failed")
    began = datetime.fromisoformat(nc.active_issue(task)["_extra"]["transitionTime"])
    poll(capsys)
    [ticket] = alert_tickets(sim)[key(device, "Disk Space", "C:")]
    local = began.astimezone(ZoneInfo("America/New_York"))
    assert f"since {local:%Y-%m-%d %H:%M} (America/New_York)" in ticket["description"]


def test_a_queue_label_the_psa_lacks_stops_the_run_with_one_line_naming_the_setting(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nc = sandboxes.control("ncentral")
    link(sandboxes, capsys)
    nc.raise_alert(nc.devices_by_org_unit[nc.customer_ids[0]][0], "CPU", "", "Failed")
    monkeypatch.setenv("HUB_RMM_ALERTS__QUEUE", "Alerts Queue")
    code, _, err = run_cli(["sync", "rmm-alerts", "--json"], capsys)
    line = err.strip().splitlines()[-1]
    assert code == 2 and "no value labelled 'Alerts Queue'" in line and "'Monitoring Alert'" in line
    assert "HUB_RMM_ALERTS__" in line and "hub check autotask" in line
