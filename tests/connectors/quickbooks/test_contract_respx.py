"""Contract tests with respx, built from the vendor-spec example payloads.

Every mocked route must be called (``assert_all_called``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.api import StaleObjectError
from connectors.quickbooks.settings import PRODUCTION_API, PRODUCTION_TOKEN_URL
from hub.sdk import (
    AuthenticationError,
    ConnectorContext,
    FakeClock,
    NotFoundError,
    TransientError,
    VendorError,
)

from .conftest import load_settings, spec

REALM = "1269959970"
API = f"{PRODUCTION_API}/v3/company/{REALM}"
TOKEN = {
    "token_type": "bearer",
    "expires_in": 3600,
    "refresh_token": "rt-2",
    "x_refresh_token_expires_in": 8726400,
    "access_token": "at-1",
}
AUTH_401 = {
    "fault": {
        "error": [
            {
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token expired: at-1",
                "code": "3200",
                "element": None,
            }
        ],
        "type": "AUTHENTICATION",
    },
    "time": 1730024394085,
}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def token_route(mock: respx.MockRouter) -> respx.Route:
    return mock.post(PRODUCTION_TOKEN_URL).mock(return_value=httpx.Response(200, json=TOKEN))


@pytest.fixture
def qb(clock: FakeClock) -> QuickBooksConnector:
    settings = load_settings(
        {
            "realm_id": REALM,
            "client_id": "cid",
            "client_secret": "csecret",
            "refresh_token": "rt-1",
            "webhook_verifier_token": "vt",
        }
    )
    return QuickBooksConnector(settings, ConnectorContext(clock=clock))


def test_production_defaults() -> None:
    settings = load_settings(
        {"realm_id": REALM, "client_id": "c", "client_secret": "s", "refresh_token": "r"}
    )
    assert settings.base_url == "https://quickbooks.api.intuit.com"
    assert settings.token_url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert settings.minor_version == 75


def test_customer_query_from_the_spec(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route
) -> None:
    body = spec("customer_query_response.json")
    query = mock.get(f"{API}/query").mock(return_value=httpx.Response(200, json=body))
    pages = list(qb.stream("customers").read())
    assert [r["DisplayName"] for p in pages for r in p.records] == [
        "Amy's Bird Sanctuary",
        "Weiskopf Consulting",
    ]
    assert pages[-1].resume is None
    request = query.calls.last.request
    params = parse_qs(request.url.query.decode())
    assert params["minorversion"] == ["75"]
    assert params["query"] == [
        "SELECT * FROM Customer WHERE Active IN (true, false) ORDERBY Id STARTPOSITION 1 MAXRESULTS 1000"
    ]
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == "Bearer at-1"
    token_request = token_route.calls.last.request
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["rt-1"],
    }
    assert token_request.headers["authorization"].startswith("Basic ")


def test_recipient_records_from_the_spec(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route
) -> None:
    mock.get(f"{API}/query").mock(return_value=httpx.Response(200, json=spec("customer_query_response.json")))
    records = [r for p in qb.stream("invoice_recipients").read() for r in p.records]
    assert [r["Address"] for r in records] == ["Birds@Intuit.com", "Consulting@intuit.com"]
    assert [r["Id"] for r in records] == ["1:birds@intuit.com", "29:consulting@intuit.com"]
    assert records[0]["CustomerRef"] == {"value": "1", "name": "Amy's Bird Sanctuary"}


def test_incremental_read_uses_cdc_and_skips_deleted(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route, clock: FakeClock
) -> None:
    customers = spec("customer_query_response.json")["QueryResponse"]["Customer"]
    deleted = {
        "domain": "QBO",
        "status": "Deleted",
        "Id": "43",
        "MetaData": {"LastUpdatedTime": "2015-07-02T10:00:00-07:00"},
    }
    body = {
        "CDCResponse": [
            {"QueryResponse": [{"Customer": [*customers, deleted], "startPosition": 1, "maxResults": 3}]}
        ],
        "time": "2015-07-23T11:02:25.149-07:00",
    }
    cdc = mock.get(f"{API}/cdc").mock(return_value=httpx.Response(200, json=body))
    pages = list(qb.stream("customers").read(since=clock.now() - timedelta(days=3)))
    assert [r["Id"] for p in pages for r in p.records] == ["1", "29"]
    params = parse_qs(cdc.calls.last.request.url.query.decode())
    assert params["entities"] == ["Customer"]
    assert params["changedSince"] == [(clock.now() - timedelta(days=3)).isoformat()]
    assert params["minorversion"] == ["75"]


def test_old_cursor_falls_back_to_the_query(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route, clock: FakeClock
) -> None:
    query = mock.get(f"{API}/query").mock(return_value=httpx.Response(200, json={"QueryResponse": {}}))
    since = clock.now() - timedelta(days=31)
    assert [p.records for p in qb.stream("customers").read(since=since)] == [[]]
    statement = parse_qs(query.calls.last.request.url.query.decode())["query"][0]
    assert f"MetaData.LastUpdatedTime >= '{since.isoformat()}'" in statement


@pytest.mark.parametrize("status", [200, 400])
def test_fault_610_is_not_found_also_inside_a_200(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route, status: int
) -> None:
    mock.get(f"{API}/customer/7").mock(return_value=httpx.Response(status, json=spec("error_fault_610.json")))
    with pytest.raises(NotFoundError) as err:
        qb.get("Customer", "7")
    assert "Object Not Found : Something you're trying to use has been made inactive" in str(err.value)
    assert "code 610" in str(err.value)
    assert err.value.fault_code == "610"  # type: ignore[attr-defined]


def test_stale_sync_token_is_a_stale_object_error(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route
) -> None:
    fault = {
        "Fault": {
            "Error": [
                {
                    "Message": "Stale Object Error",
                    "Detail": "Stale Object Error : You and Amy were working on this at the same time.",
                    "code": "5010",
                }
            ],
            "type": "ValidationFault",
        },
        "time": "2015-07-23T11:02:25.149-07:00",
    }
    mock.post(f"{API}/customer").mock(return_value=httpx.Response(400, json=fault))
    with pytest.raises(StaleObjectError, match="You and Amy"):
        qb.api.write("Customer", {"Id": "1", "SyncToken": "4", "sparse": True, "Notes": "x"})


def test_other_faults_carry_intuits_words(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route
) -> None:
    fault = {
        "Fault": {
            "Error": [
                {
                    "Message": "Duplicate Name Exists Error",
                    "Detail": "The name supplied already "
                    "exists. : Another customer is already using this name.",
                    "code": "6240",
                    "element": "",
                }
            ],
            "type": "ValidationFault",
        }
    }
    mock.post(f"{API}/customer").mock(return_value=httpx.Response(400, json=fault))
    with pytest.raises(VendorError) as err:
        qb.create("Customer", {"DisplayName": "Amy's Bird Sanctuary"})
    assert "Another customer is already using this name" in str(err.value)
    sent = rf"POST {re.escape(API)}/customer\?requestid=[0-9a-f-]{{36}}&minorversion=75 -> 400"
    assert re.search(sent, str(err.value))


def test_401_refreshes_once_then_names_the_settings(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route
) -> None:
    route = mock.get(f"{API}/customer/1").mock(return_value=httpx.Response(401, json=AUTH_401))
    with pytest.raises(AuthenticationError) as err:
        qb.get("Customer", "1")
    assert route.call_count == 2 and token_route.call_count == 2
    assert "HUB_QUICKBOOKS__CLIENT_ID" in str(err.value) and "HUB_QUICKBOOKS__REFRESH_TOKEN" in str(err.value)
    assert "AuthenticationFailed" in str(err.value)


def test_429_retry_after_is_waited_out(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route, clock: FakeClock
) -> None:
    throttled = {
        "Fault": {
            "Error": [
                {"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429", "code": "003001"}
            ],
            "type": "ThrottlingFault",
        }
    }
    body = spec("customer_query_response.json")
    route = mock.get(f"{API}/query").mock(
        side_effect=[
            httpx.Response(429, json=throttled, headers={"Retry-After": "7"}),
            httpx.Response(200, json=body),
        ]
    )
    assert len(next(iter(qb.stream("customers").read())).records) == 2
    assert route.call_count == 2
    assert 7.0 in clock.sleeps


def test_throttle_fault_inside_a_200_is_retried(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route
) -> None:
    throttled = {
        "Fault": {
            "Error": [
                {"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429", "code": "003001"}
            ],
            "type": "ThrottlingFault",
        }
    }
    route = mock.get(f"{API}/customer/1").mock(
        side_effect=[
            httpx.Response(200, json=throttled),
            httpx.Response(
                200, json={"Customer": spec("customer_query_response.json")["QueryResponse"]["Customer"][0]}
            ),
        ]
    )
    assert qb.get("Customer", "1")["DisplayName"] == "Amy's Bird Sanctuary"
    assert route.call_count == 2


def test_5xx_is_retried_then_a_transient_error(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route
) -> None:
    route = mock.get(f"{API}/customer/1").mock(return_value=httpx.Response(503, text="Service Unavailable"))
    with pytest.raises(TransientError, match="Service Unavailable"):
        qb.get("Customer", "1")
    assert route.call_count == 5


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("<IntuitResponse><QueryResponse/></IntuitResponse>", "XML"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not an object"),
    ],
)
def test_malformed_answers_are_errors(
    qb: QuickBooksConnector, mock: respx.MockRouter, token_route: respx.Route, content: str, words: str
) -> None:
    mock.get(f"{API}/query").mock(return_value=httpx.Response(200, text=content))
    with pytest.raises(VendorError, match=words):
        list(qb.stream("customers").read())


def test_token_endpoint_invalid_grant(qb: QuickBooksConnector, mock: respx.MockRouter) -> None:
    mock.post(PRODUCTION_TOKEN_URL).mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))
    with pytest.raises(AuthenticationError, match="reconnect the app") as err:
        qb.check()
    assert "rt-1" not in str(err.value)


def test_token_endpoint_outage_is_not_retried_on_top_of_retries(
    qb: QuickBooksConnector, mock: respx.MockRouter
) -> None:
    route = mock.post(PRODUCTION_TOKEN_URL).mock(return_value=httpx.Response(503))
    with pytest.raises(TransientError):
        qb.check()
    assert route.call_count == 5
