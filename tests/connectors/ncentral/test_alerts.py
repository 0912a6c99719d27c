"""Alerts that appear, repeat and clear on the simulator, as the alert job will poll them."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.ncentral.plugin import MAPPINGS
from connectors.ncentral.sim_data import FIRST_DEVICE_ID
from hub.mapping import load_mapping
from hub.sdk import Alert, AlertSeverity, VendorError

from .conftest import Served

MAPPING = load_mapping("ncentral", [MAPPINGS]).entity("active_issue")
DEVICE = FIRST_DEVICE_ID + 5


def poll(sim: Served) -> dict[str, Alert]:
    """One poll of every active issue, mapped, by dedup key."""
    conn = sim.connector()
    alerts = [MAPPING.to_core(r) for p in conn.stream("active_issues").read() for r in p.records]
    assert all(isinstance(a, Alert) for a in alerts)
    return {a.dedup_key: a for a in alerts}  # type: ignore[union-attr]


@pytest.fixture
def quiet(simulator: Any) -> Served:
    return simulator(alerts=0)


def test_raised_alert_appears_with_its_service_condition_and_severity(quiet: Served) -> None:
    task = quiet.control.raise_alert(DEVICE, "Disk Space", "C:", "Warning")
    [alert] = poll(quiet).values()
    assert alert.ref_id("ncentral") == task
    assert (alert.service, alert.condition, alert.severity) == ("Disk Space", "C:", AlertSeverity.warning)
    assert alert.device is not None and alert.device.id == str(DEVICE)
    customer = quiet.control.devices[DEVICE]["customerId"]
    assert alert.organization is not None and alert.organization.id == str(customer)
    assert alert.device_name == quiet.control.devices[DEVICE]["longName"]


def test_repeated_alert_keeps_its_identifiers_and_dedup_key(quiet: Served) -> None:
    task = quiet.control.raise_alert(DEVICE, "Disk Space", "C:", "Warning")
    first = poll(quiet)
    quiet.clock.advance(600)
    assert quiet.control.repeat_alert(task, severity="Failed") == task
    again = poll(quiet)
    assert again.keys() == first.keys()
    [before], [after] = first.values(), again.values()
    assert after.ref_id("ncentral") == before.ref_id("ncentral")
    assert after.severity is AlertSeverity.critical and after.triggered_at != before.triggered_at


def test_same_problem_raised_again_is_the_same_task(quiet: Served) -> None:
    first = quiet.control.raise_alert(DEVICE, "Windows Service", "Spooler", "Failed")
    assert quiet.control.raise_alert(DEVICE, "windows service", "spooler", "Failed") == first
    assert quiet.control.count("active_issues") == 1


def test_cleared_alert_leaves_the_active_issues_and_returns_as_the_same_task(quiet: Served) -> None:
    task = quiet.control.raise_alert(DEVICE, "CPU", "", "Failed")
    other = quiet.control.raise_alert(DEVICE, "Disk Space", "D:", "Warning")
    keys = set(poll(quiet))
    quiet.control.clear_alert(task)
    remaining = poll(quiet)
    assert [a.ref_id("ncentral") for a in remaining.values()] == [other]
    returned = quiet.control.raise_alert(DEVICE, "CPU", "", "Warning")
    assert returned == task
    assert set(poll(quiet)) == keys


def test_distinct_conditions_of_one_service_are_distinct_problems(quiet: Served) -> None:
    quiet.control.raise_alert(DEVICE, "Disk Space", "C:", "Failed")
    quiet.control.raise_alert(DEVICE, "Disk Space", "D:", "Failed")
    assert len(poll(quiet)) == 2


def test_controls_reject_what_n_central_would_not_show(quiet: Served) -> None:
    with pytest.raises(ValueError, match="states: No State"):
        quiet.control.raise_alert(DEVICE, "CPU", "", "Broken")
    with pytest.raises(ValueError, match="use clear_alert"):
        quiet.control.raise_alert(DEVICE, "CPU", "", "Normal")
    with pytest.raises(ValueError, match="no device"):
        quiet.control.raise_alert(42, "CPU")


def test_service_organizations_have_no_active_issues(quiet: Served) -> None:
    conn = quiet.connector(alert_org_units=["50"])
    with pytest.raises(VendorError, match="only supported for customers and sites"):
        list(conn.stream("active_issues").read())


def test_touch_and_count_cover_every_stream(quiet: Served) -> None:
    quiet.control.raise_alert(DEVICE, "CPU")
    for stream in ("org_units", "customers", "devices", "active_issues"):
        assert quiet.control.touch(stream)
        assert quiet.control.count(stream) >= 1
    with pytest.raises(ValueError, match="streams: org_units"):
        quiet.control.count("tickets")
