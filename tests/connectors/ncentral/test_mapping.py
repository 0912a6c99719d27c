"""mappings/ncentral.yaml: round trips, severities, and a dedup key stable across polls."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.ncentral.plugin import MAPPINGS
from connectors.ncentral.states import NotificationState
from hub.mapping import load_mapping
from hub.sdk import Alert, AlertSeverity, AlertState, ConfigurationItem, Organization, parse_timestamp

EXAMPLES = json.loads((Path(__file__).parent / "fixtures" / "api_service_examples.json").read_text())
MAPPING = load_mapping("ncentral", [MAPPINGS])


def test_every_stream_entity_has_a_mapping_of_its_kind() -> None:
    from connectors.ncentral import NcentralConnector

    for stream in NcentralConnector.stream_classes:
        assert MAPPING.entity(stream.entity).kind == stream.kind


@pytest.mark.parametrize("entity", ["org_unit", "customer"])
def test_org_round_trip(entity: str) -> None:
    raw = EXAMPLES[entity]
    mapping = MAPPING.entity(entity)
    org = mapping.to_core(raw)
    assert isinstance(org, Organization)
    assert org.name == "N-able" and org.address is not None and org.address.city == "Ottawa"
    assert org.ref_id("ncentral") == "100" and org.parent is not None and org.parent.id == "50"
    back = mapping.to_vendor(org)
    for field in ("street1", "city", "stateProv", "country", "postalCode", "phone", "externalId"):
        assert back[field] == raw[field]
    name_field = "orgUnitName" if entity == "org_unit" else "customerName"
    assert back[name_field] == raw[name_field]


def test_device_round_trip_with_assets() -> None:
    raw = {**EXAMPLES["device"], "assets": copy.deepcopy(EXAMPLES["device_assets"])}
    raw["assets"]["computersystem"]["serialnumber"] = "5CG1234XYZ"
    mapping = MAPPING.entity("device")
    ci = mapping.to_core(raw)
    assert isinstance(ci, ConfigurationItem)
    assert (ci.name, ci.serial_number, ci.os) == ("WS_01-12091-001001", "5CG1234XYZ", raw["supportedOs"])
    assert ci.last_seen == parse_timestamp(raw["lastApplianceCheckinTime"])
    assert ci.organization is not None and ci.organization.id == "12091"
    assert ci.product == "VMware7,1"
    back = mapping.to_vendor(ci)
    assert back["longName"] == raw["longName"] and back["customerId"] == raw["customerId"]
    assert back["assets"]["computersystem"]["serialnumber"] == "5CG1234XYZ"
    assert (back["supportedOs"], back["deviceClass"]) == (raw["supportedOs"], raw["deviceClass"])
    assert parse_timestamp(back["lastApplianceCheckinTime"]) == ci.last_seen


def test_devices_serial_none_means_unknown() -> None:
    ci = MAPPING.entity("device").to_core({**EXAMPLES["device"], "assets": EXAMPLES["device_assets"]})
    assert ci.serial_number is None


@pytest.mark.parametrize(
    "state", [NotificationState.FAILED, NotificationState.WARNING, NotificationState.NORMAL]
)
def test_active_issue_round_trip(state: NotificationState) -> None:
    raw = copy.deepcopy(EXAMPLES["active_issue"])
    raw["notificationState"] = int(state)
    raw["_extra"]["taskIdent"] = "C:"
    raw["customerId"] = 100  # added by the stream: the customer the issue's org unit belongs to
    mapping = MAPPING.entity("active_issue")
    alert = mapping.to_core(raw)
    assert isinstance(alert, Alert)
    assert alert.organization is not None and alert.organization.id == "100"
    back = mapping.to_vendor(alert)
    assert back["notificationState"] == int(state)
    assert (back["deviceId"], back["customerId"], back["serviceName"]) == (
        576589254,
        100,
        "Windows UAC Status",
    )
    assert back["_extra"]["taskIdent"] == "C:"


@pytest.mark.parametrize(
    ("state", "severity", "alert_state"),
    [
        (NotificationState.FAILED, AlertSeverity.critical, AlertState.open),
        (NotificationState.WARNING, AlertSeverity.warning, AlertState.open),
        (NotificationState.MISCONFIGURED, AlertSeverity.warning, AlertState.open),
        (NotificationState.DISCONNECTED, AlertSeverity.warning, AlertState.open),
        (NotificationState.STALE, AlertSeverity.information, AlertState.open),
        (NotificationState.NORMAL, AlertSeverity.information, AlertState.cleared),
    ],
)
def test_severity_and_state_from_notification_state(
    state: NotificationState, severity: AlertSeverity, alert_state: AlertState
) -> None:
    alert = MAPPING.entity("active_issue").to_core(
        {**EXAMPLES["active_issue"], "notificationState": int(state)}
    )
    assert isinstance(alert, Alert)
    assert (alert.severity, alert.state) == (severity, alert_state)


def test_documented_example_maps_to_an_alert() -> None:
    # as the stream hands it over: with the customer of its org unit (102 may be a site of it)
    alert = MAPPING.entity("active_issue").to_core({**EXAMPLES["active_issue"], "customerId": 100})
    assert isinstance(alert, Alert)
    assert alert.ref_id("ncentral") == "2096172314"
    assert alert.device is not None and alert.device.id == "576589254"
    assert alert.organization is not None and alert.organization.id == "100"
    assert (alert.service, alert.condition, alert.device_name) == (
        "Windows UAC Status",
        "default",
        "NCC-9996",
    )
    assert alert.triggered_at == datetime(2024, 4, 2, 16, 15, 33, 432000, tzinfo=UTC)
    assert alert.dedup_key == "ncentral|576589254|windows uac status|default"


_TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
_NOISE = st.dictionaries(
    st.sampled_from(
        ["acknowledgedBy", "numberOfActiveNotification", "psaTicketDetails", "deviceClassLabel", "note"]
    ),
    st.one_of(st.text(max_size=40), st.integers(), st.none()),
)


@settings(max_examples=150, deadline=None)
@given(
    state=st.sampled_from([s for s in NotificationState if s is not NotificationState.NORMAL]),
    when=_TIMES,
    device_name=st.text(min_size=1, max_size=30).filter(str.strip),
    noise=_NOISE,
    item=st.integers(min_value=1, max_value=2**31 - 1),
)
def test_dedup_key_ignores_everything_that_changes_between_polls(
    state: NotificationState, when: datetime, device_name: str, noise: dict[str, Any], item: int
) -> None:
    """Polling the same problem again can change its state, transition time, counters and
    texts; the dedup key (device, service, condition) must not move."""
    mapping = MAPPING.entity("active_issue")
    base = copy.deepcopy(EXAMPLES["active_issue"])
    base["_extra"]["taskIdent"] = "C:"
    polled = copy.deepcopy(base)
    polled["notificationState"] = int(state)
    polled["serviceItemId"] = item
    polled["_extra"].update(noise)
    polled["_extra"].update(transitionTime=when.isoformat(), deviceName=device_name)
    first, again = mapping.to_core(base), mapping.to_core(polled)
    assert isinstance(first, Alert) and isinstance(again, Alert)
    assert again.dedup_key == first.dedup_key
    assert again.ref_id("ncentral") == first.ref_id("ncentral")


@settings(max_examples=100, deadline=None)
@given(message=st.text(max_size=200), when=_TIMES, cleared=st.one_of(st.none(), _TIMES))
def test_alert_dedup_key_does_not_depend_on_message_or_timestamps(
    message: str, when: datetime, cleared: datetime | None
) -> None:
    alert = MAPPING.entity("active_issue").to_core(EXAMPLES["active_issue"])
    assert isinstance(alert, Alert)
    changed = alert.model_copy(update={"message": message, "triggered_at": when, "cleared_at": cleared})
    assert changed.dedup_key == alert.dedup_key
