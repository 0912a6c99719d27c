"""Contract tests against respx routes built from N-central's documented payloads.

The token exchange answer is the example of developer.n-able.com ("managing
authentication"); the records are the API-Service's schema examples. Every mocked route
must be called (``assert_all_called``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from connectors.ncentral import NcentralConnector
from connectors.ncentral.settings import NcentralSettings
from hub.sdk import (
    AuthenticationError,
    ConnectorContext,
    FakeClock,
    NotFoundError,
    RetryPolicy,
    TransientError,
    VendorError,
)

FIXTURES = Path(__file__).parent / "fixtures"
AUTH = json.loads((FIXTURES / "auth_authenticate_response.json").read_text())["body"]
EXAMPLES = json.loads((FIXTURES / "api_service_examples.json").read_text())
BASE = "https://ncentral.example.com"
JWT = "eyJhbGciOiJIUzI1NiJ9.user-api-token.secret-part"
ACCESS = AUTH["tokens"]["access"]["token"]
REFRESH = AUTH["tokens"]["refresh"]["token"]


def connector(clock: FakeClock | None = None, **overrides: Any) -> NcentralConnector:
    settings = NcentralSettings(base_url=BASE, jwt=JWT, **overrides)
    retry = RetryPolicy(attempts=3, base=1.0, jitter=0.0)
    return NcentralConnector(settings, ConnectorContext(clock=clock or FakeClock(), retry=retry))


def page(records: list[dict[str, Any]], number: int, total_pages: int, total: int) -> dict[str, Any]:
    return {
        "data": records,
        "pageNumber": number,
        "pageSize": len(records) or 1,
        "itemCount": len(records),
        "totalItems": total,
        "totalPages": total_pages,
        "_links": {},
    }


@pytest.fixture
def api() -> respx.MockRouter:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        router.post("/api/auth/authenticate", name="auth").mock(return_value=httpx.Response(200, json=AUTH))
        yield router


def test_exchange_sends_the_jwt_and_calls_use_the_access_token(api: respx.MockRouter) -> None:
    devices = api.get("/api/devices").mock(
        return_value=httpx.Response(200, json=page([EXAMPLES["device"]], 1, 1, 1))
    )
    conn = connector(device_assets=False)

    records = [r for p in conn.stream("devices").read() for r in p.records]

    assert records == [EXAMPLES["device"]]
    assert api["auth"].calls.last.request.headers["Authorization"] == f"Bearer {JWT}"
    assert devices.calls.last.request.headers["Authorization"] == f"Bearer {ACCESS}"
    params = devices.calls.last.request.url.params
    assert (params["pageNumber"], params["pageSize"], params["sortBy"]) == ("1", "500", "deviceId")


def test_access_token_is_refreshed_before_it_expires_with_the_refresh_token_in_the_body(
    api: respx.MockRouter,
) -> None:
    clock = FakeClock()
    refreshed = {
        **AUTH,
        "tokens": {**AUTH["tokens"], "access": {**AUTH["tokens"]["access"], "token": "new-access"}},
    }
    refresh = api.post("/api/auth/refresh").mock(return_value=httpx.Response(200, json=refreshed))
    customers = api.get("/api/customers").mock(return_value=httpx.Response(200, json=page([], 1, 0, 0)))
    conn = connector(clock)

    list(conn.stream("customers").read())
    clock.advance(3600 - 30)  # inside the refresh margin of the 3600 s access token
    list(conn.stream("customers").read())

    assert refresh.call_count == 1
    assert refresh.calls.last.request.content == REFRESH.encode()
    assert refresh.calls.last.request.headers["Content-Type"] == "text/plain"
    assert customers.calls.last.request.headers["Authorization"] == "Bearer new-access"
    assert (conn.auth.exchanges, conn.auth.refreshes) == (1, 1)


def test_refused_jwt_is_an_authentication_error_naming_the_setting() -> None:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        router.post("/api/auth/authenticate").mock(
            return_value=httpx.Response(401, json=EXAMPLES["error_401"])
        )
        with pytest.raises(AuthenticationError) as err:
            connector().check()
    message = str(err.value)
    assert "HUB_NCENTRAL__JWT" in message
    assert "Missing authorization header bearer" in message
    assert JWT not in message


def test_401_on_a_valid_looking_token_exchanges_the_jwt_once_more(api: respx.MockRouter) -> None:
    unauthorized = httpx.Response(401, json=EXAMPLES["error_401"])
    ok = httpx.Response(200, json=page([EXAMPLES["customer"]], 1, 1, 1))
    customers = api.get("/api/customers").mock(side_effect=[ok, unauthorized, ok])
    conn = connector()

    first = [r for p in conn.stream("customers").read() for r in p.records]
    second = [r for p in conn.stream("customers").read() for r in p.records]

    assert first == second == [EXAMPLES["customer"]]
    assert api["auth"].call_count == 2
    assert customers.call_count == 3


def test_error_inside_a_200_is_raised_with_n_centrals_message(api: respx.MockRouter) -> None:
    api.get("/api/org-units").mock(
        return_value=httpx.Response(200, json={"error message": "Unexpected response from DMS"})
    )
    with pytest.raises(VendorError, match="error in a 200 answer: Unexpected response from DMS"):
        list(connector().stream("org_units").read())


def test_429_is_waited_out_then_the_call_succeeds(api: respx.MockRouter) -> None:
    clock = FakeClock()
    api.get("/api/customers").mock(
        side_effect=[
            httpx.Response(
                429, json={"status": 429, "message": "Too Many Requests"}, headers={"Retry-After": "7"}
            ),
            httpx.Response(200, json=page([EXAMPLES["customer"]], 1, 1, 1)),
        ]
    )
    records = [r for p in connector(clock).stream("customers").read() for r in p.records]
    assert records == [EXAMPLES["customer"]]
    assert 7 in clock.sleeps


def test_5xx_is_retried_then_a_transient_error(api: respx.MockRouter) -> None:
    route = api.get("/api/customers").mock(return_value=httpx.Response(503, json=EXAMPLES["error_500"]))
    with pytest.raises(TransientError, match="Unexpected response from DMS"):
        list(connector().stream("customers").read())
    assert route.call_count == 3


def test_malformed_list_answer_is_a_clear_error(api: respx.MockRouter) -> None:
    api.get("/api/customers").mock(return_value=httpx.Response(200, json={"items": []}))
    with pytest.raises(VendorError, match="without a 'data' list"):
        list(connector().stream("customers").read())


def test_paging_follows_total_pages(api: respx.MockRouter) -> None:
    first = {**EXAMPLES["org_unit"], "orgUnitId": "100"}
    second = {**EXAMPLES["org_unit"], "orgUnitId": "101"}
    route = api.get("/api/org-units").mock(
        side_effect=[
            httpx.Response(200, json=page([first], 1, 2, 2)),
            httpx.Response(200, json=page([second], 2, 2, 2)),
        ]
    )
    pages = list(connector(page_size=1).stream("org_units").read())
    assert [p.records for p in pages] == [[first], [second]]
    assert [p.resume for p in pages] == [{"token": 2}, None]
    assert [c.request.url.params["pageNumber"] for c in route.calls] == ["1", "2"]


def test_active_issues_are_read_per_customer(api: respx.MockRouter) -> None:
    api.get("/api/customers").mock(
        return_value=httpx.Response(200, json=page([EXAMPLES["customer"]], 1, 1, 1))
    )
    issues = api.get("/api/org-units/100/active-issues").mock(
        return_value=httpx.Response(200, json=page([EXAMPLES["active_issue"]], 1, 1, 1))
    )
    pages = list(connector().stream("active_issues").read())
    # the issue's orgUnitId (102) may be a site of the customer: it carries its customer too
    assert [r for p in pages for r in p.records] == [{**EXAMPLES["active_issue"], "customerId": 100}]
    assert pages[-1].resume is None
    assert issues.calls.last.request.url.params["pageNumber"] == "1"


def test_active_issues_of_a_configured_site_belong_to_its_customer(api: respx.MockRouter) -> None:
    site = {**EXAMPLES["org_unit"], "orgUnitId": "102", "orgUnitType": "SITE", "parentId": "100"}
    unit = api.get("/api/org-units/102").mock(return_value=httpx.Response(200, json={"data": site, "_links": {}}))
    api.get("/api/org-units/102/active-issues").mock(
        return_value=httpx.Response(200, json=page([EXAMPLES["active_issue"]], 1, 1, 1))
    )
    records = [r for p in connector(alert_org_units=["102"]).stream("active_issues").read() for r in p.records]
    assert [(r["orgUnitId"], r["customerId"]) for r in records] == [(102, 100)]
    assert unit.call_count == 1


def test_get_device_adds_its_asset_record(api: respx.MockRouter) -> None:
    api.get("/api/devices/1299930810").mock(
        return_value=httpx.Response(200, json={"data": EXAMPLES["device"]})
    )
    api.get("/api/devices/1299930810/assets").mock(
        return_value=httpx.Response(200, json={"data": EXAMPLES["device_assets"], "_links": {}})
    )
    device = connector().get("device", "1299930810")
    assert device["longName"] == "WS_01-12091-001001"
    assert device["assets"]["computersystem"]["model"] == "VMware7,1"


def test_get_unknown_device_is_not_found(api: respx.MockRouter) -> None:
    api.get("/api/devices/42").mock(
        return_value=httpx.Response(
            404, json={"status": 404, "message": "[ID=abcd]NOT FOUND: ResourceNotFoundException: Device 42"}
        )
    )
    with pytest.raises(NotFoundError, match="ResourceNotFoundException"):
        connector().get("device", "42")
