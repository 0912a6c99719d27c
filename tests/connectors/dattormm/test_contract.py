"""Contract tests against respx routes built from Datto RMM's spec and documentation.

Answers are the spec's own examples where it has them (its error bodies), the bundle's
examples (``rmm/examples``), and instances of the spec's schemas (:mod:`spec_payloads`)
where it has none. The token grant is the one the vendor documents (see
connectors/dattormm/auth.py). Every mocked route must be called (``assert_all_called``).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from connectors.dattormm import DattormmConnector
from connectors.dattormm.connector import ResolveAlertParams
from connectors.dattormm.plugin import MAPPINGS
from connectors.dattormm.settings import DattormmSettings
from hub.mapping import load_mapping
from hub.sdk import (
    ActionContext,
    Alert,
    AuthenticationError,
    ConfigurationItem,
    ConnectorContext,
    FakeClock,
    MemoryKeyValueStore,
    Organization,
    PermissionDeniedError,
    RetryPolicy,
    TransientError,
    VendorError,
)
from tests.conftest import vendor_specs
from tests.connectors.dattormm.spec_payloads import answer_schema, full, schema

BASE = "https://pinotage-api.centrastage.net"
KEY, SECRET = "APIKEY0123456789", "APISECRET-abcdefghijklmnop"
EXAMPLES = vendor_specs() / "rmm" / "examples"
ERROR_401 = json.loads((EXAMPLES / "dattormm_error_401.json").read_text())["body"]
ALERTS_PAGE = json.loads((EXAMPLES / "dattormm_alerts_open_page.SHAPE.json").read_text())["body"]
SPEC = json.loads((vendor_specs() / "rmm" / "datto-rmm" / "datto-rmm-api-v2.openapi.json").read_text())
MAPPING = load_mapping("dattormm", [MAPPINGS])


def spec_error(path: str, status: int, method: str = "get") -> dict[str, Any]:
    """The spec's example error body of ``path`` for ``status``."""
    example: dict[str, Any] = SPEC["paths"][path][method]["responses"][str(status)]["content"]["application/json"][
        "example"
    ]
    return example


def token(value: str = "tok-1", life: int = 359999) -> httpx.Response:
    return httpx.Response(200, json={"access_token": value, "token_type": "bearer", "expires_in": life,
                                     "scope": "default"})  # fmt: skip


def page(key: str, records: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    details = {"count": len(records), "totalCount": len(records), "prevPageUrl": None, "nextPageUrl": next_url}
    return {"pageDetails": details, key: records}


def connector(clock: FakeClock | None = None, **overrides: Any) -> DattormmConnector:
    settings = DattormmSettings(api_url=BASE, api_key=KEY, api_secret=SECRET, **overrides)
    retry = RetryPolicy(attempts=3, base=1.0, jitter=0.0)
    return DattormmConnector(settings, ConnectorContext(clock=clock or FakeClock(), retry=retry))


def read(conn: DattormmConnector, stream: str) -> list[dict[str, Any]]:
    return [r for p in conn.stream(stream).read() for r in p.records]


@pytest.fixture
def api() -> respx.MockRouter:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        router.post("/auth/oauth/token", name="token").mock(return_value=token())
        yield router


# -- the token grant ---------------------------------------------------------------------


def test_the_token_grant_sends_the_documented_form_and_calls_carry_the_bearer(api: respx.MockRouter) -> None:
    site = full(schema("Site"))
    sites = api.get("/api/v2/account/sites").mock(return_value=httpx.Response(200, json=page("sites", [site])))

    assert read(connector(), "customers") == [site]

    grant = api["token"].calls.last.request
    client = base64.b64encode(b"public-client:public").decode()
    assert grant.headers["Authorization"] == f"Basic {client}"
    assert grant.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(grant.content.decode()).items()}
    assert form == {"grant_type": "password", "username": KEY, "password": SECRET}
    call = sites.calls.last.request
    assert call.headers["Authorization"] == "Bearer tok-1"
    # the first page names only its size: the platform picks its own first page
    assert dict(call.url.params) == {"max": "250"}


def test_the_token_is_kept_until_it_nearly_ends_then_requested_anew(api: respx.MockRouter) -> None:
    api["token"].mock(side_effect=[token("tok-1", 3600), token("tok-2", 3600)])
    sites = api.get("/api/v2/account/sites").mock(return_value=httpx.Response(200, json=page("sites", [])))
    clock = FakeClock()
    conn = connector(clock)
    read(conn, "customers")
    clock.advance(3000)  # within the hour, more than the 5-minute margin before its end
    read(conn, "customers")
    assert api["token"].call_count == 1
    clock.advance(400)  # now within 5 minutes of its end
    read(conn, "customers")
    assert api["token"].call_count == 2 and conn.auth.grants == 2
    assert sites.calls.last.request.headers["Authorization"] == "Bearer tok-2"


def test_a_401_requests_a_new_token_and_repeats_the_call_once(api: respx.MockRouter) -> None:
    api["token"].mock(side_effect=[token("tok-1"), token("tok-2")])
    site = full(schema("Site"))
    sites = api.get("/api/v2/account/sites").mock(
        side_effect=[httpx.Response(401, json=ERROR_401), httpx.Response(200, json=page("sites", [site]))]
    )
    assert read(connector(), "customers") == [site]
    assert [c.request.headers["Authorization"] for c in sites.calls] == ["Bearer tok-1", "Bearer tok-2"]


def test_a_401_after_a_new_token_is_an_authentication_error_naming_the_settings(api: respx.MockRouter) -> None:
    api["token"].mock(side_effect=[token("tok-1"), token("tok-2")])
    api.get("/api/v2/account/sites").mock(return_value=httpx.Response(401, json=spec_error("/v2/account/sites", 401)))
    with pytest.raises(AuthenticationError) as info:
        read(connector(), "customers")
    message = str(info.value)
    assert "HUB_DATTORMM__API_KEY" in message and "Unauthorized" in message
    assert api["token"].call_count == 2, "one new token, not a loop"
    assert SECRET not in message and KEY not in message


@pytest.mark.parametrize(
    ("status", "body", "vendor"),
    [
        (400, {"error": "invalid_grant", "error_description": "Bad credentials"}, "Bad credentials"),
        (401, {"error": "unauthorized", "error_description": "Full authentication is required"}, "Full authentication"),
    ],
)
def test_refused_keys_are_an_authentication_error_with_the_platforms_words(
    api: respx.MockRouter, status: int, body: dict[str, str], vendor: str
) -> None:
    api["token"].mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(AuthenticationError) as info:
        connector().check()
    message = str(info.value)
    assert vendor in message and "HUB_DATTORMM__API_SECRET" in message and "/auth/oauth/token" in message
    assert SECRET not in message and KEY not in message


def test_a_rate_limited_token_request_is_waited_out_and_retried(api: respx.MockRouter) -> None:
    api["token"].mock(side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), token()])
    api.get("/api/v2/account/sites").mock(return_value=httpx.Response(200, json=page("sites", [])))
    clock = FakeClock()
    assert read(connector(clock), "customers") == []
    assert 7.0 in clock.sleeps


# -- paging ------------------------------------------------------------------------------


def test_pages_follow_next_page_url_on_the_configured_platform_only(api: respx.MockRouter) -> None:
    one, two = full(schema("Device")), {**full(schema("Device")), "uid": "dev-2"}
    # the platform writes its own host name (here another spelling, with a port) into the link
    link = "https://pinotage-api.centrastage.net:443/api/v2/account/devices?max=1&page=1"
    devices = api.get("/api/v2/account/devices").mock(
        side_effect=[
            httpx.Response(200, json=page("devices", [one], link)),
            httpx.Response(200, json=page("devices", [two])),
        ]
    )
    pages = list(connector(page_size=1, device_audits=False).stream("devices").read())
    assert [p.records for p in pages] == [[one], [two]]
    assert pages[0].resume == {"token": "/v2/account/devices?max=1&page=1"}
    assert pages[1].resume is None
    second = devices.calls.last.request.url
    assert (second.scheme, second.host, second.port) == ("https", "pinotage-api.centrastage.net", None)
    assert dict(second.params) == {"max": "1", "page": "1"}


def test_a_read_resumes_from_its_token(api: respx.MockRouter) -> None:
    two = {**full(schema("Device")), "uid": "dev-2"}
    api.get("/api/v2/account/devices", params={"max": "1", "page": "1"}).mock(
        return_value=httpx.Response(200, json=page("devices", [two]))
    )
    stream = connector(page_size=1, device_audits=False).stream("devices")
    assert [r for p in stream.read(resume={"token": "/v2/account/devices?max=1&page=1"}) for r in p.records] == [two]


def test_a_next_page_url_outside_the_api_is_not_followed(api: respx.MockRouter) -> None:
    api.get("/api/v2/account/sites").mock(
        return_value=httpx.Response(200, json=page("sites", [full(schema("Site"))], "https://elsewhere.example/x"))
    )
    with pytest.raises(VendorError, match="not under /api/"):
        read(connector(), "customers")


def test_a_next_page_url_that_repeats_is_a_loop_not_an_endless_read(api: respx.MockRouter) -> None:
    link = f"{BASE}/api/v2/account/sites?max=250&page=1"
    api.get("/api/v2/account/sites").mock(
        return_value=httpx.Response(200, json=page("sites", [full(schema("Site"))], link))
    )
    with pytest.raises(Exception, match="pagination loop"):
        read(connector(), "customers")


# -- records -----------------------------------------------------------------------------


def test_spec_shaped_sites_and_devices_map_to_core_records(api: respx.MockRouter) -> None:
    site, device = full(schema("Site")), full(schema("Device"))
    api.get("/api/v2/account/sites").mock(return_value=httpx.Response(200, json=page("sites", [site])))
    api.get("/api/v2/account/devices").mock(return_value=httpx.Response(200, json=page("devices", [device])))
    audit = full(answer_schema("/v2/audit/device/{deviceUid}"))
    api.get(f"/api/v2/audit/device/{device['uid']}").mock(return_value=httpx.Response(200, json=audit))
    conn = connector()

    [raw_site] = read(conn, "customers")
    org = MAPPING.entity("site").to_core(raw_site, conn)
    assert isinstance(org, Organization) and org.name == site["name"] and org.ref_id("dattormm") == site["uid"]

    [raw_device] = read(conn, "devices")
    item = MAPPING.entity("device").to_core(raw_device, conn)
    assert isinstance(item, ConfigurationItem)
    assert (item.name, item.serial_number, item.os) == (device["hostname"], audit["bios"]["serialNumber"],
                                                        device["operatingSystem"])  # fmt: skip
    assert item.organization is not None and item.organization.id == device["siteUid"]
    assert item.product == audit["systemInfo"]["model"]


def test_the_alert_example_maps_to_an_open_alert_under_its_site_and_device(api: respx.MockRouter) -> None:
    route = api.get("/api/v2/account/alerts/open").mock(return_value=httpx.Response(200, json=ALERTS_PAGE))
    conn = connector()
    [raw] = read(conn, "active_issues")
    assert dict(route.calls.last.request.url.params) == {"max": "250", "muted": "false"}
    alert = MAPPING.entity("alert").to_core(raw, conn)
    assert isinstance(alert, Alert)
    source = ALERTS_PAGE["alerts"][0]["alertSourceInfo"]
    assert alert.organization is not None and alert.organization.id == source["siteUid"]
    assert alert.device is not None and alert.device.id == source["deviceUid"]
    assert (alert.device_name, alert.severity.value, alert.state.value) == (source["deviceName"], "critical", "open")
    assert alert.message == "Disk C: 95% used"
    # the example has no alertContext: one stable problem per device, not a crash
    assert alert.dedup_key == f"dattormm|{source['deviceUid']}|datto rmm alert|default"


def test_muted_alerts_are_read_only_when_asked_for(api: respx.MockRouter) -> None:
    route = api.get("/api/v2/account/alerts/open").mock(return_value=httpx.Response(200, json=page("alerts", [])))
    read(connector(include_muted=True), "active_issues")
    assert dict(route.calls.last.request.url.params) == {"max": "250"}


def test_epoch_millisecond_timestamps_are_read_like_iso_ones(api: respx.MockRouter) -> None:
    from datetime import UTC, datetime

    old = {**full(schema("Device")), "uid": "old", "lastSeen": 1_767_000_000_000}  # 2025-12-29
    new = {**full(schema("Device")), "uid": "new", "lastSeen": 1_767_700_000_000}  # 2026-01-06
    api.get("/api/v2/account/devices").mock(return_value=httpx.Response(200, json=page("devices", [old, new])))
    conn = connector(device_audits=False)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    records = [r for p in conn.stream("devices").read(since=since) for r in p.records]
    assert [r["uid"] for r in records] == ["new"]
    item = MAPPING.entity("device").to_core(records[0], conn)
    assert isinstance(item, ConfigurationItem) and item.last_seen == datetime(2026, 1, 6, 11, 46, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("device_class", "path", "audit", "serial"),
    [
        ("device", "/api/v2/audit/device/u1", {"bios": {"serialNumber": " 5CG1234XYZ "}}, "5CG1234XYZ"),
        ("esxihost", "/api/v2/audit/esxihost/u1", {"systemInfo": {"serviceTag": "JX9K2L3"}}, "JX9K2L3"),
        ("printer", "/api/v2/audit/printer/u1", {"snmpInfo": {"snmpSerial": "VNB3K12345"}}, "VNB3K12345"),
        ("device", "/api/v2/audit/device/u1", {"bios": {"serialNumber": "To be filled by O.E.M."}}, None),
        ("device", "/api/v2/audit/device/u1", {"bios": {"serialNumber": "Default string"}}, None),
    ],
)
def test_each_device_class_gets_its_serial_from_its_own_audit(
    api: respx.MockRouter, device_class: str, path: str, audit: dict[str, Any], serial: str | None
) -> None:
    device = {**full(schema("Device")), "uid": "u1", "deviceClass": device_class}
    api.get("/api/v2/account/devices").mock(return_value=httpx.Response(200, json=page("devices", [device])))
    api.get(path).mock(return_value=httpx.Response(200, json=audit))
    [record] = read(connector(), "devices")
    assert record["audit"]["serialNumber"] == (serial.strip() if serial else None)


def test_an_audit_is_read_again_only_when_the_device_was_audited_again(api: respx.MockRouter) -> None:
    device = {**full(schema("Device")), "uid": "u1", "deviceClass": "device", "lastAuditDate": "2026-01-04T02:00:00Z"}
    listing = api.get("/api/v2/account/devices").mock(return_value=httpx.Response(200, json=page("devices", [device])))
    audit = api.get("/api/v2/audit/device/u1").mock(
        side_effect=[
            httpx.Response(200, json={"bios": {"serialNumber": "SN-1"}}),
            httpx.Response(200, json={"bios": {"serialNumber": "SN-2"}}),
        ]
    )
    conn = connector()
    assert [r["audit"]["serialNumber"] for r in read(conn, "devices")] == ["SN-1"]
    # checked in again (lastSeen moved), not audited again: the kept audit, no call
    listing.mock(
        return_value=httpx.Response(200, json=page("devices", [{**device, "lastSeen": "2026-01-05T08:00:00Z"}]))
    )
    assert [r["audit"]["serialNumber"] for r in read(conn, "devices")] == ["SN-1"]
    assert audit.call_count == 1
    # the agent audited again: read again
    listing.mock(
        return_value=httpx.Response(200, json=page("devices", [{**device, "lastAuditDate": "2026-01-05T02:00:00Z"}]))
    )
    assert [r["audit"]["serialNumber"] for r in read(conn, "devices")] == ["SN-2"]
    assert audit.call_count == 2


def test_devices_without_an_audit_or_deleted_meanwhile_have_an_empty_one(api: respx.MockRouter) -> None:
    network = {**full(schema("Device")), "uid": "n1", "deviceClass": "rmmnetworkdevice"}
    gone = {**full(schema("Device")), "uid": "g1", "deviceClass": "device"}
    api.get("/api/v2/account/devices").mock(return_value=httpx.Response(200, json=page("devices", [network, gone])))
    api.get("/api/v2/audit/device/g1").mock(
        return_value=httpx.Response(404, json=spec_error("/v2/audit/device/{deviceUid}", 404))
    )
    assert [r["audit"] for r in read(connector(), "devices")] == [{}, {}]


# -- errors ------------------------------------------------------------------------------


def test_a_500_is_a_transient_error_with_the_platforms_words(api: respx.MockRouter) -> None:
    api.get("/api/v2/account/sites").mock(return_value=httpx.Response(500, json=spec_error("/v2/account/sites", 500)))
    with pytest.raises(TransientError, match="Internal Server Error"):
        read(connector(), "customers")


def test_a_403_names_the_settings_to_check(api: respx.MockRouter) -> None:
    api.get("/api/v2/account/sites").mock(return_value=httpx.Response(403, json=spec_error("/v2/account/sites", 403)))
    with pytest.raises(PermissionDeniedError, match=r"HUB_DATTORMM__API_KEY.*Forbidden"):
        read(connector(), "customers")


# -- resolving an alert ------------------------------------------------------------------


def _ctx() -> ActionContext:
    from pathlib import Path

    return ActionContext(run_id="run-1", step_id="resolve", documents_root=Path("."), state=MemoryKeyValueStore())


def test_resolve_alert_posts_the_resolve_of_an_open_alert(api: respx.MockRouter) -> None:
    alert = {**full(schema("Alert")), "alertUid": "a-1", "resolved": False}
    api.get("/api/v2/alert/a-1").mock(return_value=httpx.Response(200, json=alert))
    resolve = api.post("/api/v2/alert/a-1/resolve").mock(return_value=httpx.Response(200))
    out = connector().action("resolve_alert").run(ResolveAlertParams(alert_uid="a-1"), _ctx())
    assert out == {"alert_uid": "a-1", "resolved": True, "changed": True}
    assert resolve.calls.last.request.headers["Authorization"] == "Bearer tok-1"


def test_resolving_an_alert_already_resolved_sends_nothing(api: respx.MockRouter) -> None:
    alert = {**full(schema("Alert")), "alertUid": "a-1", "resolved": True}
    api.get("/api/v2/alert/a-1").mock(return_value=httpx.Response(200, json=alert))
    out = connector().action("resolve_alert").run(ResolveAlertParams(alert_uid="a-1"), _ctx())
    assert out == {"alert_uid": "a-1", "resolved": True, "changed": False}


def test_a_conflict_on_resolve_counts_as_done_when_the_alert_is_resolved_by_then(api: respx.MockRouter) -> None:
    alert = {**full(schema("Alert")), "alertUid": "a-1", "resolved": False}
    api.get("/api/v2/alert/a-1").mock(
        side_effect=[httpx.Response(200, json=alert), httpx.Response(200, json={**alert, "resolved": True})]
    )
    api.post("/api/v2/alert/a-1/resolve").mock(
        return_value=httpx.Response(409, json=spec_error("/v2/alert/{alertUid}/resolve", 409, "post"))
    )
    out = connector().action("resolve_alert").run(ResolveAlertParams(alert_uid="a-1"), _ctx())
    assert out["changed"] is False
