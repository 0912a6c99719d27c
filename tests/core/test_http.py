"""The HTTP layer: retries, Retry-After, backoff cap, typed errors, logging - on a fake clock."""

from __future__ import annotations

import email.utils
from datetime import timedelta

import httpx
import pytest
import respx

from hub.clock import FakeClock
from hub.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
    VendorError,
)
from hub.http import ErrorPolicy, HttpClient, RetryPolicy, parse_retry_after
from hub.ratelimit import RateLimit, RateLimiter

BASE = "https://api.example.test"


def client(clock: FakeClock, **kwargs) -> HttpClient:
    kwargs.setdefault("retry", RetryPolicy(attempts=4, base=1.0, cap=8.0, jitter=0.0))
    return HttpClient("example", BASE, clock=clock, **kwargs)


def test_retry_after_seconds_is_waited_out(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    route = respx_mock.get(f"{BASE}/things").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": 1})]
    )
    response = client(clock).get("/things")
    assert response.json() == {"ok": 1}
    assert route.call_count == 2
    assert clock.sleeps == [7.0]


def test_retry_after_http_date_is_waited_out(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    when = email.utils.format_datetime(clock.now() + timedelta(seconds=12), usegmt=True)
    respx_mock.get(f"{BASE}/things").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200, json=[])]
    )
    client(clock).get("/things")
    assert clock.sleeps == [12.0]


def test_retry_after_is_capped(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.get(f"{BASE}/things").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200)]
    )
    c = client(clock, retry=RetryPolicy(attempts=3, retry_after_cap=60.0, jitter=0.0))
    c.get("/things")
    assert clock.sleeps == [60.0]


def test_backoff_is_exponential_and_capped_then_typed_error(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    route = respx_mock.get(f"{BASE}/things").mock(return_value=httpx.Response(502, text="bad gateway"))
    with pytest.raises(TransientError) as info:
        client(clock, retry=RetryPolicy(attempts=6, base=1.0, cap=5.0, jitter=0.0)).get("/things")
    assert route.call_count == 6
    assert clock.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert info.value.status == 502
    assert "GET https://api.example.test/things" in str(info.value)


def test_backoff_jitter_stays_under_cap(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(504))
    with pytest.raises(TransientError):
        client(clock, retry=RetryPolicy(attempts=8, base=1.0, cap=6.0, jitter=1.0)).get("/x")
    assert len(clock.sleeps) == 7
    assert all(0 < s <= 6.0 for s in clock.sleeps)


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, VendorError), (401, AuthenticationError), (403, PermissionDeniedError), (404, NotFoundError)],
)
def test_no_retry_on_client_errors(respx_mock: respx.MockRouter, clock: FakeClock, status: int, error: type) -> None:
    route = respx_mock.post(f"{BASE}/things").mock(
        return_value=httpx.Response(status, json={"message": "Vendor says no"})
    )
    with pytest.raises(error) as info:
        client(clock).post("/things", json={})
    assert route.call_count == 1
    assert clock.sleeps == []
    assert info.value.vendor_message == "Vendor says no"
    assert "Vendor says no" in str(info.value)


def test_rate_limit_that_never_ends_is_a_rate_limited_error(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(RateLimitedError):
        client(clock).get("/x")
    assert clock.sleeps == [1.0, 1.0, 1.0]


def test_connection_errors_and_timeouts_are_retried(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    route = respx_mock.get(f"{BASE}/x").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200)]
    )
    assert client(clock).get("/x").status_code == 200
    assert route.call_count == 3


def test_auth_error_names_the_settings_to_check(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(401))
    policy = ErrorPolicy(auth_hint="HUB_EXAMPLE__USERNAME, HUB_EXAMPLE__SECRET")
    with pytest.raises(AuthenticationError, match="HUB_EXAMPLE__SECRET"):
        client(clock, policy=policy).get("/x")


def test_inspect_turns_errors_inside_200_into_typed_errors(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.get(f"{BASE}/q").mock(return_value=httpx.Response(200, json={"Fault": {"Error": [{"Message": "x"}]}}))
    holder: dict[str, HttpClient] = {}

    def inspect(response: httpx.Response) -> None:
        if "Fault" in response.json():
            raise holder["c"].error(response, "fault in a 200 answer")

    holder["c"] = client(clock, inspect=inspect)
    with pytest.raises(VendorError, match="fault in a 200"):
        holder["c"].get("/q")


def test_calls_are_counted_per_attempt(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.get(f"{BASE}/x").mock(side_effect=[httpx.Response(503), httpx.Response(200)])
    c = client(clock)
    c.get("/x")
    assert c.calls == 2


def test_parse_retry_after_forms(clock: FakeClock) -> None:
    assert parse_retry_after("5", clock) == 5.0
    assert parse_retry_after(" 2.5 ", clock) == 2.5
    assert parse_retry_after(None, clock) is None
    assert parse_retry_after("soon", clock) is None
    past = email.utils.format_datetime(clock.now() - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, clock) == 0.0


def test_rate_limiter_spaces_requests_on_the_fake_clock(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(200))
    limiter = RateLimiter([RateLimit(requests=2, per_seconds=10)], clock)
    c = client(clock, limiter=limiter)
    for _ in range(4):
        c.get("/x")
    # two tokens at once, then one every 5 seconds
    assert sum(clock.sleeps) == pytest.approx(10.0)


def test_vendor_429_penalizes_the_shared_budget(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "30"}), httpx.Response(200)]
    )
    limiter = RateLimiter([RateLimit(requests=100, per_seconds=1)], clock)
    c = client(clock, limiter=limiter)
    c.get("/x")
    # the retry waited Retry-After once (tenacity), the limiter did not add a second wait
    assert sum(clock.sleeps) == pytest.approx(30.0, abs=0.05)


@pytest.mark.parametrize("base", ["https://api.example.test", "https://api.example.test/", "https://h.test:8443/v1.0"])
@pytest.mark.parametrize(
    "path", ["/things", "things", "/a/b?page[size]=5&x=%2F", "", "https://other.test/next?page=2"]
)
def test_request_urls_resolve_as_httpx_merges_them(base: str, path: str, clock: FakeClock) -> None:
    """The client parses each path once and sends the URL httpx itself would build."""
    seen: list[str] = []
    transport = httpx.MockTransport(lambda request: (seen.append(str(request.url)), httpx.Response(200))[1])
    c = HttpClient("example", base, clock=clock, transport=transport)
    c.get(path)
    c.get(path)  # the second time from the client's cache of parsed URLs
    expected = str(httpx.Client(base_url=base).build_request("GET", path).url)
    assert seen == [expected, expected]


def test_a_new_base_url_is_used_for_paths_sent_before(clock: FakeClock) -> None:
    seen: list[str] = []
    transport = httpx.MockTransport(lambda request: (seen.append(str(request.url)), httpx.Response(200))[1])
    c = HttpClient("example", "https://one.test/v1", clock=clock, transport=transport)
    c.get("/things")
    c.base_url = "https://two.test/v2"  # e.g. Autotask's zone found after a first call
    c.get("/things")
    assert seen == ["https://one.test/v1/things", "https://two.test/v2/things"]
