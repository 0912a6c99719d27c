"""The NinjaOne simulator: it refuses what the spec does not allow, imitates the documented
token grant, scopes and paging, and the connector reads and resets alerts through it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.ninjaone import NinjaoneConnector
from connectors.ninjaone.connector import ResetAlertParams
from connectors.ninjaone.settings import NinjaoneSettings
from connectors.ninjaone.simulator import NinjaSimulator
from hub.sandbox import SandboxSet
from hub.sdk import ActionContext, FakeClock, MemoryKeyValueStore, PermissionDeniedError, RateLimitedError
from tests.connectors.ninjaone.conftest import Served


def bearer(served: Served, scope: str = "monitoring management") -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": served.control.client_id,
            "client_secret": served.control.client_secret, "scope": scope}  # fmt: skip
    answer = httpx.post(served.url + "/ws/oauth/token", data=form)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def ctx() -> ActionContext:
    return ActionContext(run_id="r", step_id="s", documents_root=Path("."), state=MemoryKeyValueStore())


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "why"),
    [
        ("GET", "/v2/organizations", {"limit": "5"}, 400, "parameters the spec does not declare: limit"),
        ("GET", "/v2/organizations", {"pageSize": "many"}, 400, ""),
        ("GET", "/v2/activities", {"pageSize": "5"}, 400, ""),  # the spec's minimum is 10
        ("GET", "/v2/no-such-thing", {}, 404, "the spec has no path"),
        ("PUT", "/v2/alerts", {}, 405, "the spec has no PUT"),
    ],
)
def test_requests_the_spec_does_not_allow_are_refused_and_recorded(
    simulator: Callable[..., Served], method: str, path: str, params: dict[str, str], status: int, why: str
) -> None:
    served = simulator()
    answer = httpx.request(method, served.url + path, params=params, headers=bearer(served))
    assert answer.status_code == status
    assert answer.json()["resultCode"] == "FAILURE" and why in answer.json()["errorMessage"]
    assert [(m, p) for m, p, _ in served.control.refused] == [(method, path)]


def test_calls_need_a_live_bearer_token_and_tokens_last_an_hour(sim: Served) -> None:
    assert httpx.get(sim.url + "/v2/organizations").status_code == 401
    headers = bearer(sim)
    assert httpx.get(sim.url + "/v2/organizations", headers=headers).status_code == 200
    sim.control.advance(3601)
    assert httpx.get(sim.url + "/v2/organizations", headers=headers).status_code == 401

    # the connector asks for a new token when its own clock says the old one ended
    conn = sim.connector()
    assert len([r for p in conn.stream("customers").read() for r in p.records]) == sim.control.count("customers")
    sim.clock.advance(3601)
    sim.control.forget_tokens()
    assert len([r for p in conn.stream("customers").read() for r in p.records]) == sim.control.count("customers")
    assert conn.auth.grants == 2


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"scope": "monitoring everything"}, 400, "invalid_scope"),
    ],
)
def test_the_token_endpoint_answers_oauth_errors(sim: Served, form: dict[str, str], status: int, error: str) -> None:
    good = {"grant_type": "client_credentials", "client_id": sim.control.client_id,
            "client_secret": sim.control.client_secret, "scope": "monitoring"}  # fmt: skip
    answer = httpx.post(sim.url + "/ws/oauth/token", data={**good, **form})
    assert (answer.status_code, answer.json()["error"]) == (status, error)


def test_an_operation_that_names_its_scope_needs_it(sim: Served) -> None:
    """``PATCH /v2/device/{id}`` names ``management`` in its own ``security``; reads take any
    of the document's scopes."""
    monitoring = bearer(sim, "monitoring")
    answer = httpx.patch(sim.url + "/v2/device/1", json={"displayName": "x"}, headers=monitoring)
    assert answer.status_code == 403 and "management" in answer.json()["errorMessage"]
    assert httpx.get(sim.url + "/v2/organizations", headers=monitoring).status_code == 200
    conn = sim.connector(scopes="monitoring")
    assert conn.check().details["scopes granted"] == "monitoring"
    with pytest.raises(PermissionDeniedError, match="management"):
        conn.client().patch("/v2/device/1", json={"displayName": "x"})


def test_alerts_raised_and_reset_reach_the_connector_with_their_severity(sim: Served) -> None:
    control: NinjaSimulator = sim.control
    device = control.device_ids[3]
    uid = control.raise_alert(device, "CONDITION_AGENT_CPU", "CPU 95%", "MINOR")
    conn = sim.connector()
    alerts = {a["uid"]: a for p in conn.stream("active_issues").read() for a in p.records}
    assert alerts[uid]["_severity"] == "MINOR"
    assert alerts[uid]["_organizationId"] == control.devices[device]["organizationId"]
    assert len(alerts) == control.count("active_issues")

    assert conn.reset_alert(ResetAlertParams(alert_uid=uid), ctx())["changed"] is True
    assert uid not in control.alerts
    assert [a["statusCode"] for a in control.activities if a["seriesUid"] == uid] == ["TRIGGERED", "RESET"]
    assert conn.reset_alert(ResetAlertParams(alert_uid=uid), ctx())["changed"] is False


def test_a_seed_gives_the_same_instance() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    one, two = (NinjaSimulator(size=50, seed_value=4, clock=FakeClock(start)) for _ in range(2))
    assert one.organizations == two.organizations and list(one.devices.values()) == list(two.devices.values())
    assert [(a["deviceId"], a["sourceName"]) for a in one.alerts.values()] == [
        (a["deviceId"], a["sourceName"]) for a in two.alerts.values()
    ]


def test_thousands_of_devices_are_read_in_pages_of_a_thousand(simulator: Callable[..., Served]) -> None:
    served = simulator(size=5000, alerts=0, check_answers=False)  # answers are checked in the other tests
    conn = served.connector(page_size=1000)
    pages = list(conn.stream("devices").read())
    ids = [r["id"] for p in pages for r in p.records]
    assert ids == sorted(served.control.device_ids) and len(ids) == 5000
    # five full pages, then the empty page that ends the read
    assert served.control.calls("/v2/devices-detailed") == 6


def test_an_instance_over_its_budget_answers_429_and_the_connector_waits(simulator: Callable[..., Served]) -> None:
    served = simulator(rate_limit=5)
    served.control.spend(5)  # other clients of the instance spent the minute
    conn = served.connector()
    with pytest.raises(RateLimitedError):
        next(iter(conn.stream("customers").read()))
    assert served.clock.sleeps, "the 429 was retried with backoff before giving up"
    served.control.advance(61)
    assert next(iter(conn.stream("customers").read())).records


def test_a_reset_answered_by_a_gateways_502_after_it_applied_is_sent_again_harmlessly() -> None:
    options: dict[str, Any] = {"size": 30, "seed": 2, "alerts": 3}
    with SandboxSet({"ninjaone": NinjaoneConnector}, {"ninjaone": options}) as sandboxes:
        control: NinjaSimulator = sandboxes.control("ninjaone")
        uid = next(iter(control.alerts))
        sandboxes.faults["ninjaone"].after_write("502", method="DELETE", path="/v2/alert/")
        settings = sandboxes.sandboxes["ninjaone"].settings(sandboxes.url("ninjaone"))
        conn = NinjaoneConnector(NinjaoneSettings(**settings))
        result = conn.reset_alert(ResetAlertParams(alert_uid=uid), ctx())
        assert result == {"alert_uid": uid, "reset": True, "changed": False}  # the repeat found it reset
        assert uid not in control.alerts and control.calls(f"/v2/alert/{uid}") == 2
        assert sandboxes.faults["ninjaone"].injected == [("502", "DELETE", f"/v2/alert/{uid}")]
