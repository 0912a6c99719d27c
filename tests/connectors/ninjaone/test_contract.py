"""Contract tests against respx routes built from NinjaOne's spec and documentation.

The spec has no examples: answers are instances of its schemas (:mod:`spec_payloads`).
The token grant is the Client Credentials grant the vendor documents (see
connectors/ninjaone/auth.py). Every mocked route must be called (``assert_all_called``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.ninjaone import NinjaoneConnector
from connectors.ninjaone.connector import SEVERITY_MEMO, ResetAlertParams
from connectors.ninjaone.plugin import MAPPINGS
from connectors.ninjaone.problems import severity_of
from connectors.ninjaone.settings import NinjaoneSettings
from connectors.ninjaone.streams import device_identity, ninja_time
from hub.mapping import load_mapping
from hub.sdk import (
    ActionContext,
    Alert,
    AlertSeverity,
    AuthenticationError,
    ConfigurationItem,
    ConnectorContext,
    FakeClock,
    MemoryKeyValueStore,
    Organization,
    PaginationLoop,
    RecordRejected,
    RetryPolicy,
    VendorError,
)
from tests.connectors.ninjaone.spec_payloads import UUID, answer_schema, full, schema, strategy

BASE = "https://eu.ninjarmm.com"
CLIENT_ID, SECRET = "client-0123456789", "secret-abcdefghijklmnop"
MAPPING = load_mapping("ninjaone", [MAPPINGS])


def token(value: str = "tok-1", life: int = 3600) -> httpx.Response:
    return httpx.Response(200, json={"access_token": value, "token_type": "Bearer", "expires_in": life,
                                     "scope": "monitoring management"})  # fmt: skip


def connector(clock: FakeClock | None = None, state: MemoryKeyValueStore | None = None, **overrides: Any) -> Any:
    settings = NinjaoneSettings(api_url=BASE, client_id=CLIENT_ID, client_secret=SECRET, **overrides)
    context = ConnectorContext(clock=clock or FakeClock(), retry=RetryPolicy(attempts=3, base=1.0, jitter=0.0),
                               state=state or MemoryKeyValueStore())  # fmt: skip
    return NinjaoneConnector(settings, context)


def read(conn: NinjaoneConnector, stream: str, **kw: Any) -> list[dict[str, Any]]:
    return [r for p in conn.stream(stream).read(**kw) for r in p.records]


def alert(uid: str = UUID, device_id: int = 7, **fields: Any) -> dict[str, Any]:
    """The spec's ``Alert`` with every property, its embedded device in organization 3."""
    record: dict[str, Any] = full(schema("Alert"))
    record.update(uid=uid, deviceId=device_id, sourceType="CONDITION_AGENT_DISK_FREE_SPACE", sourceName="Disk C:")
    record["device"] = {**record["device"], "id": device_id, "organizationId": 3}
    record.update(fields)
    return record


@pytest.fixture
def api() -> respx.MockRouter:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        router.post("/ws/oauth/token", name="token").mock(return_value=token())
        yield router


# -- the token grant ---------------------------------------------------------------------


def test_the_grant_sends_the_documented_client_credentials_form_and_calls_carry_the_bearer(
    api: respx.MockRouter,
) -> None:
    org = full(schema("Organization"))
    orgs = api.get("/v2/organizations").mock(return_value=httpx.Response(200, json=[org]))

    assert read(connector(), "customers") == [org]

    grant = api["token"].calls.last.request
    assert grant.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(grant.content.decode()).items()}
    assert form == {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET,
                    "scope": "monitoring management"}  # fmt: skip
    call = orgs.calls.last.request
    assert call.headers["Authorization"] == "Bearer tok-1"
    assert dict(call.url.params) == {"pageSize": "1000"}  # the first page: no after


def test_the_token_is_kept_until_it_nearly_ends_then_asked_for_anew(api: respx.MockRouter) -> None:
    api["token"].mock(side_effect=[token("tok-1"), token("tok-2")])
    orgs = api.get("/v2/organizations").mock(return_value=httpx.Response(200, json=[]))
    clock = FakeClock()
    conn = connector(clock)
    read(conn, "customers")
    clock.advance(3400)  # within the hour, more than the 2-minute margin before its end
    read(conn, "customers")
    assert api["token"].call_count == 1
    clock.advance(100)  # within 2 minutes of its end
    read(conn, "customers")
    assert api["token"].call_count == 2 and conn.auth.grants == 2
    assert orgs.calls.last.request.headers["Authorization"] == "Bearer tok-2"


def test_a_401_with_a_live_token_gets_one_new_token_and_one_retry(api: respx.MockRouter) -> None:
    api["token"].mock(side_effect=[token("tok-1"), token("tok-2"), token("tok-3")])
    orgs = api.get("/v2/organizations").mock(
        side_effect=[
            httpx.Response(401, json={"resultCode": "FAILURE", "errorMessage": "Invalid token"}),
            httpx.Response(200, json=[]),
        ]
    )
    conn = connector()
    assert read(conn, "customers") == []
    assert [c.request.headers["Authorization"] for c in orgs.calls] == ["Bearer tok-1", "Bearer tok-2"]

    # refused again right after a new token: the secret is wrong, said once, naming the settings
    orgs.mock(return_value=httpx.Response(401, json={"resultCode": "FAILURE", "errorMessage": "Invalid token"}))
    with pytest.raises(AuthenticationError) as err:
        read(conn, "customers")
    assert "HUB_NINJAONE__CLIENT_SECRET" in str(err.value) and "Invalid token" in str(err.value)
    assert api["token"].call_count == 3


def test_a_refused_grant_is_one_line_with_the_oauth_error_and_never_the_secret(api: respx.MockRouter) -> None:
    api["token"].mock(return_value=httpx.Response(
        401, json={"error": "invalid_client", "error_description": f"Bad client credentials ({SECRET})"}))  # fmt: skip
    with pytest.raises(AuthenticationError) as err:
        connector().check()
    text = str(err.value)
    assert "Bad client credentials" in text and "HUB_NINJAONE__CLIENT_ID" in text
    assert SECRET not in text and "\n" not in text


def test_a_grant_answered_503_is_retried_by_the_one_retry_layer(api: respx.MockRouter) -> None:
    api["token"].mock(side_effect=[httpx.Response(503), token()])
    api.get("/v2/organizations").mock(return_value=httpx.Response(200, json=[]))
    clock = FakeClock()
    assert read(connector(clock), "customers") == []
    assert api["token"].call_count == 2 and clock.sleeps == [1.0]


# -- pages ---------------------------------------------------------------------------------


def test_lists_are_paged_after_the_last_id_and_resume_from_it(api: respx.MockRouter) -> None:
    device = full(schema("Device"))
    pages = {None: [{**device, "id": 3}, {**device, "id": 5}], "5": [{**device, "id": 8}]}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("after")])

    route = api.get("/v2/devices-detailed").mock(side_effect=answer)
    conn = connector(page_size=2)
    read_pages = list(conn.stream("devices").read())
    assert [[r["id"] for r in p.records] for p in read_pages] == [[3, 5], [8]]
    assert [p.resume for p in read_pages] == [{"token": 5}, None]
    assert [dict(c.request.url.params) for c in route.calls] == [{"pageSize": "2"}, {"pageSize": "2", "after": "5"}]

    resumed = list(conn.stream("devices").read(resume=read_pages[0].resume))
    assert [r["id"] for p in resumed for r in p.records] == [8]


def test_a_vendor_repeating_a_page_is_stopped_not_followed_forever(api: respx.MockRouter) -> None:
    org = full(schema("Organization"))
    api.get("/v2/organizations").mock(return_value=httpx.Response(200, json=[{**org, "id": 4}, {**org, "id": 4}]))
    with pytest.raises(PaginationLoop):
        read(connector(page_size=2), "customers")


def test_a_full_page_without_an_id_to_page_after_is_an_error_not_the_end(api: respx.MockRouter) -> None:
    org = full(schema("Organization"))
    api.get("/v2/organizations").mock(return_value=httpx.Response(200, json=[org, {**org, "id": None}]))
    with pytest.raises(VendorError, match="no id to page after"):
        read(connector(page_size=2), "customers")


def test_an_answer_that_is_not_a_list_is_a_vendor_error(api: respx.MockRouter) -> None:
    api.get("/v2/organizations").mock(return_value=httpx.Response(200, json={"results": []}))
    with pytest.raises(VendorError, match="not a JSON array"):
        read(connector(), "customers")


# -- devices ---------------------------------------------------------------------------------


def test_devices_since_a_time_are_those_contacted_since_and_those_without_a_contact(api: respx.MockRouter) -> None:
    base = full(schema("Device"))
    since = datetime(2026, 1, 1, tzinfo=UTC)
    devices = [
        {**base, "id": 1, "lastContact": since.timestamp() - 1},
        {**base, "id": 2, "lastContact": since.timestamp()},
        {**base, "id": 3, "lastContact": since.timestamp() * 1000 + 5},  # milliseconds
        {**{k: v for k, v in base.items() if k != "lastContact"}, "id": 4},
    ]
    api.get("/v2/devices-detailed").mock(return_value=httpx.Response(200, json=devices))
    assert [r["id"] for r in read(connector(), "devices", since=since)] == [2, 3, 4]


def test_an_agent_devices_serial_model_and_os_reach_the_configuration_item() -> None:
    device = full(schema("AgentDevice"))
    device.update(id=12, organizationId=3, systemName="SRV-01")
    device["system"].update(serialNumber="  5CG1234XYZ ", model="ProLiant DL360")
    device["os"]["name"] = "Windows Server 2022"
    item = MAPPING.entity("device").to_core(device_identity(device), None)
    assert isinstance(item, ConfigurationItem)
    assert (item.name, item.serial_number, item.product, item.os) == (
        "SRV-01", "5CG1234XYZ", "ProLiant DL360", "Windows Server 2022")  # fmt: skip
    assert item.organization is not None and item.organization.id == "3"
    assert item.last_seen == ninja_time(device["lastContact"])


@pytest.mark.parametrize(
    ("fields", "name", "serial"),
    [
        ({"systemName": "", "displayName": "Front desk PC"}, "Front desk PC", None),
        ({"systemName": None, "displayName": None, "dnsName": "pc.local"}, "pc.local", None),
        ({"system": {"serialNumber": "To be filled by O.E.M.", "biosSerialNumber": "BIOS-77"}}, "WS-1", "BIOS-77"),
        ({"system": {"serialNumber": "Default string"}}, "WS-1", None),
    ],
)
def test_devices_are_named_by_what_they_have_and_placeholder_serials_count_as_none(
    fields: dict[str, Any], name: str, serial: str | None
) -> None:
    device = {"id": 9, "systemName": "WS-1", **fields}
    found = device_identity(device)
    assert (found["_name"], found["_serial"]) == (name, serial)


# -- alerts ----------------------------------------------------------------------------------


def test_an_alert_with_its_own_severity_costs_no_lookup_and_keys_on_device_type_and_condition(
    api: respx.MockRouter,
) -> None:
    record = alert(severity="MAJOR")
    api.get("/v2/alerts").mock(return_value=httpx.Response(200, json=[record]))
    [raw] = read(connector(), "active_issues")
    core = MAPPING.entity("alert").to_core(raw, None)
    assert isinstance(core, Alert)
    assert core.dedup_key == "ninjaone|7|disk free space|disk c:"
    assert core.severity is AlertSeverity.critical and core.organization is not None
    assert core.organization.id == "3"
    assert core.message == record["message"]


def test_a_severity_comes_from_the_triggering_activity_once_then_from_the_memo(api: respx.MockRouter) -> None:
    listed = [alert(), alert(uid="7a1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4c", device_id=8)]
    for record in listed:
        record.pop("severity", None)
    api.get("/v2/alerts").mock(return_value=httpx.Response(200, json=listed))
    activity = full(schema("Activity"))

    def activities(request: httpx.Request) -> httpx.Response:
        series = request.url.params["seriesUid"]
        rows = [{**activity, "seriesUid": series, "statusCode": "RESET", "severity": "NONE"},
                {**activity, "seriesUid": series, "statusCode": "TRIGGERED",
                 "severity": "MINOR" if series == UUID else "CRITICAL"}]  # fmt: skip
        return httpx.Response(200, json={"lastActivityId": 99, "activities": rows})

    route = api.get("/v2/activities").mock(side_effect=activities)
    state = MemoryKeyValueStore()
    first = read(connector(state=state), "active_issues")
    assert [r["_severity"] for r in first] == ["MINOR", "CRITICAL"]
    assert {c.request.url.params["pageSize"] for c in route.calls} == {"10"}  # the spec's minimum
    assert route.call_count == 2

    # the next poll, by another run: no look-up; the memo keeps only what is still active
    api.get("/v2/alerts").mock(return_value=httpx.Response(200, json=listed[1:]))
    second = read(connector(state=state), "active_issues")
    assert [r["_severity"] for r in second] == ["CRITICAL"] and route.call_count == 2
    assert state.get(SEVERITY_MEMO) == {listed[1]["uid"]: "CRITICAL"}


def test_an_alert_without_its_device_or_any_activity_reads_the_device_and_is_a_warning(
    api: respx.MockRouter,
) -> None:
    bare = {"uid": UUID, "deviceId": 41, "sourceType": "CONDITION_AGENT_CPU", "sourceName": "CPU 95%"}
    orphan = {"uid": "8a1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4d", "sourceType": "CONDITION_HTTP", "sourceName": "site"}
    api.get("/v2/alerts").mock(return_value=httpx.Response(200, json=[bare, orphan]))
    api.get("/v2/activities").mock(return_value=httpx.Response(404, json={"errorMessage": "Not found"}))
    device = api.get("/v2/device/41").mock(return_value=httpx.Response(200, json={"id": 41, "organizationId": 6}))
    records = read(connector(), "active_issues")
    assert [r["uid"] for r in records] == [UUID], "an alert of no device is none of the RMM jobs' problems"
    core = MAPPING.entity("alert").to_core(records[0], None)
    assert isinstance(core, Alert) and core.severity is AlertSeverity.warning
    assert core.organization is not None and core.organization.id == "6" and device.call_count == 1


def test_vendor_errors_carry_the_vendors_message(api: respx.MockRouter) -> None:
    api.get("/v2/alerts").mock(return_value=httpx.Response(
        400, json={"resultCode": "FAILURE", "errorMessage": "Invalid device filter", "incidentId": UUID}))  # fmt: skip
    with pytest.raises(VendorError) as err:
        read(connector(), "active_issues")
    assert "Invalid device filter" in str(err.value) and "/v2/alerts" in str(err.value)


# -- the reset action --------------------------------------------------------------------------


def _ctx() -> ActionContext:
    return ActionContext(run_id="run-1", step_id="reset", documents_root=Path("."), state=MemoryKeyValueStore())


def test_reset_alert_deletes_the_alert_and_an_alert_already_reset_counts_as_done(api: respx.MockRouter) -> None:
    route = api.delete(f"/v2/alert/{UUID}").mock(side_effect=[httpx.Response(204), httpx.Response(404, json={})])
    conn = connector()
    params = ResetAlertParams(alert_uid=UUID)
    assert conn.reset_alert(params, _ctx()) == {"alert_uid": UUID, "reset": True, "changed": True}
    assert conn.reset_alert(params, _ctx()) == {"alert_uid": UUID, "reset": True, "changed": False}
    assert route.call_count == 2


def test_a_reset_whose_answer_was_lost_is_sent_again_since_it_applies_by_value(api: respx.MockRouter) -> None:
    route = api.delete(f"/v2/alert/{UUID}").mock(side_effect=[httpx.Response(502), httpx.Response(204)])
    assert connector().reset_alert(ResetAlertParams(alert_uid=UUID), _ctx())["changed"] is True
    assert route.call_count == 2


def test_reset_alert_takes_only_uuids() -> None:
    with pytest.raises(ValueError, match="alert_uid"):
        ResetAlertParams(alert_uid="../organizations")


# -- mappings over spec-shaped records (property tests) -----------------------------------------


def test_spec_shaped_records_map_to_core_records() -> None:
    org = MAPPING.entity("organization").to_core(full(answer_schema("/v2/organizations")["items"]), None)
    assert isinstance(org, Organization) and org.name == "text"
    device = MAPPING.entity("device").to_core(device_identity(full(schema("Device"))), None)
    assert isinstance(device, ConfigurationItem) and device.name == "text"


@settings(max_examples=60, deadline=None)
@given(record=strategy(schema("Alert")), device_id=st.integers(1, 2**31 - 1), own=st.booleans())
def test_any_spec_shaped_alert_maps_or_is_refused_never_crashes(
    record: dict[str, Any], device_id: int, own: bool
) -> None:
    record = {**record, "uid": UUID, "deviceId": device_id}
    if not own:
        record.pop("severity", None)
    found = severity_of(record)
    raw = {**record, "_severity": found, "_organizationId": 3}
    try:
        core = MAPPING.entity("alert").to_core(raw, None)
    except RecordRejected:
        return
    assert isinstance(core, Alert) and core.dedup_key.startswith(f"ninjaone|{device_id}|")
    assert core.severity in set(AlertSeverity)


@given(st.floats(min_value=1e9, max_value=4e9, allow_nan=False))  # 2001 to 2096
def test_epoch_seconds_and_milliseconds_read_back_to_the_same_moment(seconds: float) -> None:
    for value in (seconds, seconds * 1000, str(seconds)):
        moment = ninja_time(value)
        assert moment is not None and abs(moment.timestamp() - seconds) < 1e-3


@given(st.one_of(st.none(), st.booleans(), st.text(max_size=8), st.floats(), st.lists(st.integers(), max_size=2)))
def test_any_other_value_is_a_time_or_none_never_an_error(value: Any) -> None:
    moment = ninja_time(value)
    assert moment is None or moment.tzinfo is UTC
