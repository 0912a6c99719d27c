"""Every stream read from the simulator over loopback HTTP, over several pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from connectors.ncentral.sim_data import FIRST_DEVICE_ID
from hub.sdk import ConfigError, Page, parse_timestamp

from .conftest import Served


def read_all(pages: Any) -> tuple[list[dict[str, Any]], list[Page]]:
    pages = list(pages)
    return [r for p in pages for r in p.records], pages


@pytest.mark.parametrize(("stream", "key"), [("org_units", "orgUnitId"), ("customers", "customerId")])
def test_org_streams_read_every_record_over_several_pages(sim: Served, stream: str, key: str) -> None:
    conn = sim.connector(page_size=1)
    records, pages = read_all(conn.stream(stream).read())
    assert len(pages) == sim.control.count(stream) > 1
    assert len(records) == sim.control.count(stream)
    assert len({r[key] for r in records}) == len(records)
    assert pages[-1].resume is None and all(p.resume for p in pages[:-1])


def test_devices_carry_serial_os_and_last_seen(sim: Served) -> None:
    records, pages = read_all(sim.connector().stream("devices").read())
    assert len(pages) == -(-60 // 7)
    assert [r["deviceId"] for r in records] == sorted(r["deviceId"] for r in records)
    assert len(records) == 60
    first = records[0]
    assert first["assets"]["computersystem"]["serialnumber"] == sim.control.serials[first["deviceId"]]
    assert first["supportedOs"] and parse_timestamp(first["lastApplianceCheckinTime"]) is not None


def test_devices_since_returns_those_checked_in_at_or_after_it(sim: Served) -> None:
    conn = sim.connector()
    since = sim.clock.now() + timedelta(seconds=1)
    assert read_all(conn.stream("devices").read(since))[0] == []
    sim.clock.advance(5)
    touched = {
        sim.control.touch("devices", str(FIRST_DEVICE_ID + 3)),
        sim.control.touch("devices", str(FIRST_DEVICE_ID + 40)),
    }
    assets_before = sim.control.calls("/api/devices/")

    records, _ = read_all(conn.stream("devices").read(since))

    assert {str(r["deviceId"]) for r in records} == touched
    # only the matching devices' asset records are read
    assert sim.control.calls("/api/devices/") - assets_before == 2


def test_devices_read_resumes_after_a_page(sim: Served) -> None:
    stream = sim.connector(device_assets=False).stream("devices")
    first_page = next(iter(stream.read()))
    rest, _ = read_all(stream.read(resume=first_page.resume))
    ids = [r["deviceId"] for r in first_page.records + rest]
    assert ids == sorted(sim.control.devices)


def test_active_issues_of_every_customer_over_several_pages(simulator: Any) -> None:
    sim = simulator(size=100, alerts=30)
    records, pages = read_all(sim.connector(page_size=3).stream("active_issues").read())
    assert len(records) == sim.control.count("active_issues") == len({r["taskId"] for r in records})
    assert len(pages) > len(sim.control.customer_ids)
    assert pages[-1].resume is None


def test_active_issues_resume_from_any_page(simulator: Any) -> None:
    sim = simulator(size=100, alerts=30)
    stream = sim.connector(page_size=3).stream("active_issues")
    _, pages = read_all(stream.read())
    expected = [r["taskId"] for p in pages for r in p.records]
    for index, page in enumerate(pages[:-1]):
        rest, _ = read_all(stream.read(resume=page.resume))
        done = [r["taskId"] for p in pages[: index + 1] for r in p.records]
        assert done + [r["taskId"] for r in rest] == expected


def test_active_issues_of_configured_org_units_only(simulator: Any) -> None:
    sim = simulator(size=100, alerts=0)
    customer = sim.control.customer_ids[1]
    device = sim.control.devices_by_org_unit[customer][0]
    task = sim.control.raise_alert(device, "Disk Space", "C:", "Failed")
    sim.control.raise_alert(sim.control.devices_by_org_unit[sim.control.customer_ids[0]][0], "CPU")

    records, _ = read_all(sim.connector(alert_org_units=[str(customer)]).stream("active_issues").read())

    assert [str(r["taskId"]) for r in records] == [task]
    assert sim.control.calls("/api/customers") == 0


def test_get_reads_single_records(sim: Served) -> None:
    conn = sim.connector()
    device = conn.get("device", str(FIRST_DEVICE_ID))
    customer = conn.get("customer", str(sim.control.customer_ids[0]))
    org_unit = conn.get("org_unit", "50")
    assert device["deviceId"] == FIRST_DEVICE_ID and "assets" in device
    assert customer["customerId"] == str(sim.control.customer_ids[0])
    assert org_unit["orgUnitType"] == "SO"
    with pytest.raises(ConfigError, match="entities: device, org_unit, customer"):
        conn.get("alert", "1")
    with pytest.raises(ConfigError, match="ids are numbers"):
        conn.get("device", "../api/customers")


def test_check_reports_counts_without_secrets(sim: Served) -> None:
    result = sim.connector().check()
    assert result.ok
    assert result.details["customers"] == str(sim.control.count("customers"))
    assert result.details["devices"] == "60"
    assert sim.base_settings["jwt"] not in repr(result.details)


def test_a_hundred_thousand_devices_can_be_seeded_and_paged(simulator: Any) -> None:
    sim = simulator(size=100_000, alerts=0)
    first = next(iter(sim.connector(page_size=1000, device_assets=False).stream("devices").read()))
    assert len(first.records) == 1000 and sim.control.count("devices") == 100_000
