"""Which requests the HTTP layer sends again after a lost answer, and which it hands to the
write path as an unknown outcome (a create must never be repeated blindly)."""

from __future__ import annotations

import httpx
import pytest
import respx

from hub.clock import FakeClock
from hub.errors import OutcomeUnknown, TransientError
from hub.http import ErrorPolicy, HttpClient, RetryPolicy

BASE = "https://api.example.test"


def client(clock: FakeClock, **kwargs) -> HttpClient:
    kwargs.setdefault("retry", RetryPolicy(attempts=4, base=1.0, cap=8.0, jitter=0.0))
    return HttpClient("example", BASE, clock=clock, timeout=12.0, **kwargs)


LOST = [
    pytest.param(httpx.ReadTimeout("late"), id="read-timeout"),
    pytest.param(httpx.RemoteProtocolError("peer closed connection"), id="dropped"),
    pytest.param(httpx.ReadError("reset"), id="reset"),
    pytest.param(httpx.WriteTimeout("half sent"), id="write-timeout"),
    pytest.param(httpx.Response(502), id="502"),
    pytest.param(httpx.Response(503), id="503"),
    pytest.param(httpx.Response(504), id="504"),
]


@pytest.mark.parametrize("answer", [*LOST, pytest.param(httpx.Response(500), id="500")])
def test_a_create_whose_answer_was_lost_is_not_sent_again(
    respx_mock: respx.MockRouter, clock: FakeClock, answer: object
) -> None:
    route = respx_mock.post(f"{BASE}/things").mock(side_effect=[answer, httpx.Response(201, json={"id": 2})])
    with pytest.raises(OutcomeUnknown) as info:
        client(clock).post("/things", json={"name": "Riverbend"})
    assert route.call_count == 1
    assert info.value.settle == 12.0  # a slow vendor gets as long again to finish before the lookup
    assert "outcome unknown" in str(info.value) and "POST" in str(info.value)


@pytest.mark.parametrize("answer", LOST)
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_requests_applied_by_value_are_retried(
    respx_mock: respx.MockRouter, clock: FakeClock, answer: object, method: str
) -> None:
    route = respx_mock.route(method=method, url=f"{BASE}/things/1").mock(
        side_effect=[answer, httpx.Response(200, json={})]
    )
    client(clock).request(method, "/things/1")
    assert route.call_count == 2


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(httpx.ConnectError("refused"), id="connect-error"),
        pytest.param(httpx.ConnectTimeout("no route"), id="connect-timeout"),
        pytest.param(httpx.Response(429, headers={"Retry-After": "3"}), id="429"),
    ],
)
def test_a_create_that_provably_never_applied_is_retried(
    respx_mock: respx.MockRouter, clock: FakeClock, answer: object
) -> None:
    route = respx_mock.post(f"{BASE}/things").mock(side_effect=[answer, httpx.Response(201, json={"id": 2})])
    assert client(clock).post("/things").json() == {"id": 2}
    assert route.call_count == 2


def test_a_create_that_never_connects_still_ends_transient(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    respx_mock.post(f"{BASE}/things").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransientError) as info:
        client(clock).post("/things")
    assert not isinstance(info.value, OutcomeUnknown)


def test_read_posts_named_by_the_policy_are_retried(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    policy = ErrorPolicy(replayable_posts=(r"/query(/next)?$",))
    route = respx_mock.post(f"{BASE}/V1.0/Companies/query").mock(
        side_effect=[httpx.ReadTimeout("late"), httpx.Response(200, json={"items": []})]
    )
    client(clock, policy=policy).post("/V1.0/Companies/query", json={"filter": []})
    assert route.call_count == 2
    create = respx_mock.post(f"{BASE}/V1.0/Companies").mock(side_effect=httpx.ReadTimeout("late"))
    with pytest.raises(OutcomeUnknown):
        client(clock, policy=policy).post("/V1.0/Companies", json={})
    assert create.call_count == 1


def test_a_vendor_idempotency_key_makes_a_create_safe_to_repeat(
    respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    policy = ErrorPolicy(replay_param="requestid")
    route = respx_mock.post(f"{BASE}/customer").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"Id": "7"})]
    )
    client(clock, policy=policy).post("/customer", params={"requestid": "k-1"}, json={})
    assert route.call_count == 2
    assert all(call.request.url.params["requestid"] == "k-1" for call in route.calls)


def test_the_caller_can_declare_one_request_replayable(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    route = respx_mock.post(f"{BASE}/search").mock(side_effect=[httpx.ReadTimeout("x"), httpx.Response(200)])
    client(clock).post("/search", replayable=True)
    assert route.call_count == 2


def test_a_put_that_creates_is_not_sent_again(respx_mock: respx.MockRouter, clock: FakeClock) -> None:
    """Acronis Advanced Automation creates contracts with PUT: the policy names such paths."""
    policy = ErrorPolicy(creating_paths=(r"/Contracts$",))
    create = respx_mock.put(f"{BASE}/aa/Contracts").mock(side_effect=[httpx.ReadTimeout("late"), httpx.Response(200)])
    with pytest.raises(OutcomeUnknown):
        client(clock, policy=policy).put("/aa/Contracts", json={"Name": "Backup"})
    assert create.call_count == 1
    by_value = respx_mock.put(f"{BASE}/aa/Customers").mock(side_effect=[httpx.ReadTimeout("x"), httpx.Response(200)])
    client(clock, policy=policy).put("/aa/Customers", json={})
    assert by_value.call_count == 2
