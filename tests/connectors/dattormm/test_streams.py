"""The connector against its simulator: reads, audits, muted alerts, tokens, budgets, resolving.

Every test here also checks (the ``sim`` fixture) that the simulator refused no request
as the spec would, and that its answers matched the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from connectors.dattormm.connector import ResolveAlertParams
from hub.sdk import ActionContext, MemoryKeyValueStore, parse_timestamp
from tests.connectors.dattormm.conftest import Served


def ids(served: Served, stream: str, **settings: object) -> list[str]:
    s = served.connector(**settings).stream(stream)
    return [s.record_id(r) for p in s.read() for r in p.records]


def test_full_reads_return_every_record_once_and_one_token_serves_every_stream(sim: Served) -> None:
    conn = sim.connector()
    for stream in ("customers", "devices", "active_issues"):
        s = conn.stream(stream)
        read = [s.record_id(r) for p in s.read() for r in p.records]
        assert len(read) == len(set(read)) == sim.control.count(stream), stream
    assert conn.auth.grants == 1 == sim.control.tokens_granted
    # 60 devices at 7 a page: 9 pages, plus one audit per device with an audit endpoint
    audited = sum(1 for d in sim.control.devices.values() if d["deviceClass"] != "rmmnetworkdevice")
    assert sim.control.calls("/api/v2/audit/") == audited


def test_devices_since_are_those_seen_at_or_after_it_with_their_serials(sim: Served) -> None:
    control = sim.control
    newest = max(parse_timestamp(d["lastSeen"]) for d in control.devices.values())
    assert newest is not None
    sim.clock.advance(60)
    touched = control.touch("devices", control.device_uids[5])
    stream = sim.connector().stream("devices")
    records = [r for p in stream.read(since=newest + timedelta(seconds=1)) for r in p.records]
    assert [r["uid"] for r in records] == [touched]
    assert records[0]["audit"]["serialNumber"] == control.serials.get(touched)


def test_a_second_read_audits_no_device_that_was_not_audited_again(sim: Served) -> None:
    conn = sim.connector()
    first = [r for p in conn.stream("devices").read() for r in p.records]
    audits = sim.control.calls("/api/v2/audit/")
    second = [r for p in conn.stream("devices").read() for r in p.records]
    assert sim.control.calls("/api/v2/audit/") == audits
    assert [r["audit"] for r in second] == [r["audit"] for r in first]


def test_without_audits_no_audit_is_read(sim: Served) -> None:
    assert len(ids(sim, "devices", device_audits=False)) == len(sim.control.devices)
    assert sim.control.calls("/api/v2/audit/") == 0


def test_muted_alerts_are_left_out_unless_asked_for(sim: Served) -> None:
    control = sim.control
    device = control.device_uids[0]
    loud = control.raise_alert(device, "perf_disk_usage_ctx", "Critical", diskName="C:")
    quiet = control.raise_alert(device, "srvc_status_ctx", "Moderate", serviceName="Spooler")
    control.mute_alert(quiet)
    assert loud in ids(sim, "active_issues") and quiet not in ids(sim, "active_issues")
    assert quiet in ids(sim, "active_issues", include_muted=True)


def test_a_token_the_platform_forgot_is_replaced_once(sim: Served) -> None:
    conn = sim.connector()
    list(conn.stream("customers").read())
    sim.control.forget_tokens()
    assert len([r for p in conn.stream("customers").read() for r in p.records]) == len(sim.control.sites)
    assert conn.auth.grants == 2


def test_an_expired_token_is_replaced_before_the_platform_refuses_it(sim: Served) -> None:
    conn = sim.connector()
    list(conn.stream("customers").read())
    sim.clock.advance(100 * 3600 - 60)  # a minute before the 100 hours run out
    list(conn.stream("customers").read())
    assert conn.auth.grants == 2
    assert sim.control.calls("/auth/oauth/token") == 2


def test_a_read_resumes_after_its_page_in_a_new_process(sim: Served) -> None:
    pages = list(sim.connector().stream("devices").read())
    done = [r["uid"] for r in pages[0].records + pages[1].records]
    resumed = [r["uid"] for p in sim.connector().stream("devices").read(resume=pages[1].resume) for r in p.records]
    assert done + resumed == [r["uid"] for p in pages for r in p.records]


def test_reads_stay_under_the_platforms_cutoff_and_never_see_a_429(simulator: Callable[..., Served]) -> None:
    """650 reads as fast as the connector's budget allows: the platform never slows an
    answer (over 90 % of 600 in 60 s) nor refuses one (over 600)."""
    served = simulator(size=12, alerts=0, check_answers=False)
    conn = served.connector()
    stream = conn.stream("customers")
    for _ in range(650):
        list(stream.read())
    assert (served.control.delayed, conn.client().rate_limited) == (0, 0)
    assert sum(served.clock.sleeps) > 60, "the budget made the connector wait"


def test_resolving_an_alert_resolves_it_once(sim: Served) -> None:
    control = sim.control
    alert = control.raise_alert(control.device_uids[1], "perf_resource_usage_ctx", "High", type="CPU")
    ctx = ActionContext(run_id="r1", step_id="s1", documents_root=Path("."), state=MemoryKeyValueStore())
    action = sim.connector().action("resolve_alert")
    assert action.run(ResolveAlertParams(alert_uid=alert), ctx)["changed"] is True
    assert alert not in [a["alertUid"] for a in control.open_alerts()]
    assert control.alerts[alert]["resolvedBy"] == "API"
    posts = control.calls(f"/api/v2/alert/{alert}/resolve")
    assert action.run(ResolveAlertParams(alert_uid=alert), ctx)["changed"] is False
    assert control.calls(f"/api/v2/alert/{alert}/resolve") == posts == 1


def test_check_reports_the_account_and_its_live_request_counts(sim: Served) -> None:
    result = sim.connector().check()
    assert result.ok
    assert result.details["account"] == "Northwind MSP"
    assert result.details["devices"] == str(len(sim.control.devices))
    assert result.details["reads in the last minute"].endswith("of 600")
    assert result.details["access token lifetime"] == "100 h"
