"""Property tests: one problem key per monitored thing, whatever else an alert says.

Records are drawn from the spec's schemas (:mod:`spec_payloads`), so the mapping and the
problem key are tested on every shape the spec allows, not on the simulator's data.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connectors.dattormm.plugin import MAPPINGS
from connectors.dattormm.problems import IDENTITY_FIELDS, monitor_instance, with_instance
from hub.mapping import load_mapping
from hub.sdk import Alert, RecordRejected
from tests.connectors.dattormm.spec_payloads import schema, strategy

ALERTS = load_mapping("dattormm", [MAPPINGS]).entity("alert")
CONTEXTS = sorted(n for n in ("DiskUsageContext", "ResourceUsageContext", "StatusContext", "EventLogContext",
                              "PingContext", "PatchContext", "ActionContext", "FileSystemContext",
                              "CustomSNMPContext", "AntivirusContext", "ScriptContext", "WmiContext"))  # fmt: skip
#: what changes between two notifications of one problem
VOLATILE = ("alertUid", "priority", "diagnostics", "timestamp", "resolvedOn", "resolvedBy", "ticketNumber",
            "responseActions", "autoresolveMins", "alertMonitorInfo", "muted")  # fmt: skip


def contexts() -> st.SearchStrategy[dict[str, Any]]:
    classes = st.sampled_from(["perf_x_ctx", "srvc_status_ctx", "eventlog_ctx"])
    drawn = st.sampled_from(CONTEXTS).flatmap(lambda name: st.tuples(classes, strategy(schema(name))))
    return drawn.map(lambda t: {"@class": t[0], **t[1]})


def volatile_change(context: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The same context with its non-identifying fields redrawn."""
    changing = [k for k in context if k not in IDENTITY_FIELDS and k not in ("@class", "samples")]
    return st.fixed_dictionaries({k: st.text(max_size=6) | st.integers() for k in changing}).map(
        lambda new: {**context, **new}
    )


@given(strategy(schema("Alert")))
def test_every_spec_shaped_alert_maps_or_is_rejected_with_a_reason(alert: dict[str, Any]) -> None:
    try:
        core = ALERTS.to_core(with_instance(alert))
    except RecordRejected as exc:
        assert "dattormm alert" in str(exc)
        return
    assert isinstance(core, Alert) and core.service and core.condition


@given(contexts().flatmap(lambda c: st.tuples(st.just(c), volatile_change(c))))
def test_the_instance_ignores_what_changes_between_notifications(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    before, after = pair
    assert monitor_instance(before) == monitor_instance(after)


NOTIFICATION = st.fixed_dictionaries(
    {
        "alertUid": st.uuids().map(str),
        "diagnostics": st.text(max_size=20),
        "timestamp": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    },
    optional={"priority": st.sampled_from(["Critical", "High", "Moderate", "Low", "Information", "Unknown"])},
)


@given(contexts(), st.lists(NOTIFICATION, min_size=2, max_size=4), st.text(min_size=1, max_size=12))
def test_every_alert_of_one_monitored_thing_has_one_dedup_key(
    context: dict[str, Any], notifications: list[dict[str, Any]], device: str
) -> None:
    source = {"deviceUid": device, "deviceName": "PC-1", "siteUid": "site-1", "siteName": "Acme"}
    keys = set()
    for volatile in notifications:
        alert = {**volatile, "alertContext": context, "alertSourceInfo": source, "resolved": False}
        core = ALERTS.to_core(with_instance(alert))
        assert isinstance(core, Alert)
        keys.add(core.dedup_key)
    assert len(keys) == 1


NAMES = st.text(min_size=1, max_size=10).filter(str.strip)


@given(st.sampled_from(["diskName", "serviceName", "processName", "logName", "instanceName", "path"]), NAMES, NAMES)
def test_different_monitored_things_are_different_problems(field: str, one: str, two: str) -> None:
    if one.strip().casefold() == two.strip().casefold():
        return
    first = monitor_instance({"@class": "perf_disk_usage_ctx", field: one})
    second = monitor_instance({"@class": "perf_disk_usage_ctx", field: two})
    assert first.casefold() != second.casefold()


def test_component_monitors_are_told_apart_by_their_result_names_not_values() -> None:
    backup = {"@class": "comp_script_ctx", "samples": {"BackupResult": "failed at 02:00"}}
    again = {"@class": "comp_script_ctx", "samples": {"BackupResult": "failed at 03:00"}}
    disk = {"@class": "comp_script_ctx", "samples": {"SmartStatus": "Predictive failure"}}
    assert monitor_instance(backup) == monitor_instance(again) == "BackupResult"
    assert monitor_instance(disk) != monitor_instance(backup)


def test_the_instance_reads_naming_fields_in_a_fixed_order() -> None:
    event = {"@class": "eventlog_ctx", "code": "7031", "logName": "System", "source": "Service Control Manager",
             "description": "The Spooler service terminated unexpectedly", "triggerCount": 3}  # fmt: skip
    assert monitor_instance(event) == "System / Service Control Manager / 7031"
    assert monitor_instance(None) == "" and monitor_instance({"@class": "online_offline_status_ctx"}) == ""
