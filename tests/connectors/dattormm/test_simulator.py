"""The simulator itself: it refuses what the spec or the vendor's documentation does not
allow, pages like the platform, keeps its budgets, and stays fast at thousands of devices."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors.dattormm.simulator import DEFAULT_KEY, DEFAULT_SECRET, DattoSimulator
from tests.connectors.dattormm.conftest import Served

BASIC = ("public-client", "public")
GRANT = {"grant_type": "password", "username": DEFAULT_KEY, "password": DEFAULT_SECRET}


@pytest.fixture
def raw(simulator: Callable[..., Served]) -> Iterator[Callable[..., tuple[Served, httpx.Client]]]:
    """``raw(**options)``: a served simulator and a plain httpx client holding a valid token."""
    clients: list[httpx.Client] = []

    def start(**options: Any) -> tuple[Served, httpx.Client]:
        served = simulator(**options)
        token = httpx.post(f"{served.url}/auth/oauth/token", data=GRANT, auth=BASIC).json()["access_token"]
        client = httpx.Client(base_url=served.url + "/api", headers={"Authorization": f"Bearer {token}"})
        clients.append(client)
        return served, client

    yield start
    for client in clients:
        client.close()


# -- the spec check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "status", "why"),
    [
        ("GET", "/v2/account/devices?pageSize=10", 400, "parameters the spec does not declare: pageSize"),
        ("GET", "/v2/account/devices?page=first", 400, "Failed to cast value to integer type: first"),
        ("GET", "/v2/account/alerts/open?muted=sometimes", 400, "Failed to cast value to boolean type"),
        ("GET", "/v2/account/tickets", 404, "the spec has no path /api/v2/account/tickets"),
        ("DELETE", "/v2/account/sites", 405, "the spec has no DELETE /api/v2/account/sites"),
        ("GET", "/v2/alert/abc/resolve", 405, "the spec has no GET /api/v2/alert/abc/resolve"),
    ],
)
def test_requests_the_spec_does_not_allow_are_refused(
    raw: Callable[..., tuple[Served, httpx.Client]], method: str, url: str, status: int, why: str
) -> None:
    served, client = raw()
    answer = client.request(method, url)
    assert answer.status_code == status
    body = answer.json()
    assert (body["status"], body["path"]) == (status, url.split("?")[0])
    assert why in body["message"]
    assert served.control.refused and why in served.control.refused[-1][2]


def test_operations_the_spec_has_but_the_simulator_does_not_imitate_answer_501(
    raw: Callable[..., tuple[Served, httpx.Client]],
) -> None:
    _, client = raw()
    assert client.get("/v2/account/users").status_code == 501


def test_errors_have_the_specs_error_shape(raw: Callable[..., tuple[Served, httpx.Client]]) -> None:
    served, _ = raw()
    body = httpx.get(f"{served.url}/api/v2/account/sites").json()  # no token
    assert set(body) == {"timestamp", "status", "error", "path"}
    assert (body["status"], body["error"], body["path"]) == (401, "Unauthorized", "/v2/account/sites")
    assert isinstance(body["timestamp"], int) and body["timestamp"] > 1_700_000_000_000
    # the platform's status is public ("An API access token is not necessary")
    assert httpx.get(f"{served.url}/api/v2/system/status").json()["status"] == "OK"


# -- the token grant ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"data": GRANT}, 401, "unauthorized"),  # no public-client credentials
        ({"json": GRANT, "auth": BASIC}, 400, "invalid_request"),  # not a form
        ({"data": {**GRANT, "grant_type": "client_credentials"}, "auth": BASIC}, 400, "unsupported_grant_type"),
        ({"data": {**GRANT, "password": "wrong"}, "auth": BASIC}, 400, "invalid_grant"),
        ({"data": {**GRANT, "username": "wrong"}, "auth": BASIC}, 400, "invalid_grant"),
    ],
)
def test_the_token_endpoint_grants_only_the_documented_request(
    simulator: Callable[..., Served], kwargs: dict[str, Any], status: int, error: str
) -> None:
    served = simulator()
    answer = httpx.post(f"{served.url}/auth/oauth/token", **kwargs)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert served.control.tokens_granted == 0


def test_tokens_last_100_hours(raw: Callable[..., tuple[Served, httpx.Client]]) -> None:
    served, client = raw()
    assert client.get("/v2/account").status_code == 200
    served.clock.advance(100 * 3600)
    assert client.get("/v2/account").status_code == 401


# -- paging ------------------------------------------------------------------------------


def test_pages_start_at_0_link_the_next_absolutely_and_end_with_null(
    raw: Callable[..., tuple[Served, httpx.Client]],
) -> None:
    served, client = raw(size=30, alerts=30)
    first = client.get("/v2/account/alerts/open", params={"max": 20, "muted": "false"}).json()
    details = first["pageDetails"]
    assert (details["count"], details["totalCount"], details["prevPageUrl"]) == (20, 30, None)
    assert details["nextPageUrl"] == f"{served.url}/api/v2/account/alerts/open?muted=false&max=20&page=1"
    second = httpx.get(details["nextPageUrl"], headers=client.headers).json()
    assert second["pageDetails"]["nextPageUrl"] is None and second["pageDetails"]["count"] == 10
    assert {a["alertUid"] for a in first["alerts"]}.isdisjoint(a["alertUid"] for a in second["alerts"])


def test_max_is_capped_at_the_platforms_page_size(raw: Callable[..., tuple[Served, httpx.Client]]) -> None:
    _, client = raw(size=600, alerts=0, check_answers=False)
    body = client.get("/v2/account/devices", params={"max": 1000}).json()
    assert body["pageDetails"]["count"] == 250 and "max=250" in body["pageDetails"]["nextPageUrl"]
    assert client.get("/v2/system/pagination").json() == {"max": 250}


def test_thousands_of_devices_page_through_quickly_enough_for_tests(
    raw: Callable[..., tuple[Served, httpx.Client]],
) -> None:
    served, client = raw(size=20_000, alerts=100, check_answers=False)
    seen, url = 0, "/v2/account/devices?max=250"
    while url:
        body = client.get(url).json()
        seen += body["pageDetails"]["count"]
        link = body["pageDetails"]["nextPageUrl"]
        url = link.removeprefix(f"{served.url}/api") if link else ""
    assert seen == 20_000 == served.control.count("devices")


# -- budgets -----------------------------------------------------------------------------


def test_the_account_budget_counts_every_user_and_refuses_reads_over_600_a_minute(
    raw: Callable[..., tuple[Served, httpx.Client]],
) -> None:
    served, client = raw(size=12, alerts=0, check_answers=False)
    served.control.spend(reads=599)  # other integrations of the MSP, within the last minute
    assert client.get("/v2/account").status_code == 200
    answer = client.get("/v2/account")
    assert (answer.status_code, answer.json()["error"]) == (429, "Too Many Requests")
    # writes have their own budget
    alert = served.control.raise_alert(served.control.device_uids[0], "ping_ctx", instanceName="gw")
    assert client.post(f"/v2/alert/{alert}/mute").status_code == 200
    served.clock.advance(60)
    assert client.get("/v2/account").status_code == 200


def test_reads_over_90_percent_of_the_budget_are_answered_a_second_late(
    raw: Callable[..., tuple[Served, httpx.Client]],
) -> None:
    served, client = raw(size=12, alerts=0, check_answers=False)
    served.control.spend(reads=539)
    client.get("/v2/account")  # the 540th: at 90 %, not over it
    assert (served.control.delayed, served.clock.sleeps) == (0, [])
    client.get("/v2/account")
    assert (served.control.delayed, served.clock.sleeps) == (1, [1.0])


def test_writes_over_100_a_minute_are_refused(raw: Callable[..., tuple[Served, httpx.Client]]) -> None:
    served, client = raw(size=12, alerts=0, check_answers=False)
    alert = served.control.raise_alert(served.control.device_uids[0], "ping_ctx", instanceName="gw")
    answers = [client.post(f"/v2/alert/{alert}/mute").status_code for _ in range(101)]
    assert answers[:100] == [200] * 100 and answers[100] == 429
    assert client.get("/v2/system/request_rate").json()["accountWriteCount"] == 100


# -- data and controls ---------------------------------------------------------------------


def test_a_seed_gives_the_same_platform_every_time() -> None:
    one, two, other = (DattoSimulator(size=50, seed_value=s) for s in (4, 4, 5))
    assert one.device_uids == two.device_uids and one.sites == two.sites and one.serials == two.serials
    assert list(one.alerts) == list(two.alerts)
    assert one.device_uids != other.device_uids


def test_a_monitor_triggering_again_raises_a_new_alert(sim: Served) -> None:
    control = sim.control
    device = control.device_uids[0]
    first = control.raise_alert(device, "perf_disk_usage_ctx", diskName="C:")
    control.resolve_alert(first, by="auto-resolve")
    second = control.raise_alert(device, "perf_disk_usage_ctx", diskName="C:")
    assert first != second and control.alerts[first]["resolved"] and not control.alerts[second]["resolved"]
    assert [a["alertUid"] for a in control.open_alerts()][-1] == second


def test_an_audit_of_the_wrong_device_class_is_refused(raw: Callable[..., tuple[Served, httpx.Client]]) -> None:
    served, client = raw()
    devices = served.control.devices
    printer = next(u for u, d in devices.items() if d["deviceClass"] == "printer")
    answer = client.get(f"/v2/audit/device/{printer}")
    assert answer.status_code == 400 and "not of class device" in answer.json()["message"]
    assert (
        client.get(f"/v2/audit/printer/{printer}").json()["snmpInfo"]["snmpSerial"] == served.control.serials[printer]
    )


def test_the_answer_check_catches_an_answer_the_spec_does_not_describe(
    raw: Callable[..., tuple[Served, httpx.Client]],
) -> None:
    served, client = raw()
    served.control.devices[served.control.device_uids[0]]["online"] = "yes"  # a string, not a boolean
    client.get("/v2/account/devices")
    assert served.control.bad_answers and "'yes' is not of type 'boolean'" in served.control.bad_answers[0][1]
