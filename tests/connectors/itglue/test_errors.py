"""Faults against the simulator: auth, rate limits, 5xx, malformed pages, media type."""

from __future__ import annotations

import httpx
import pytest

from hub.sdk import AuthenticationError, NotFoundError, RateLimitedError, TransientError, VendorError

from .conftest import Sim


def test_missing_key_is_401_and_names_the_settings(sim: Sim) -> None:
    response = httpx.get(f"{sim.url}/organizations")
    assert response.status_code == 401
    assert response.json()["errors"][0]["title"] == "Unauthorized"
    sim.control.fail_next(401)
    with pytest.raises(AuthenticationError) as err:
        sim.make().check()
    assert "HUB_ITGLUE__API_KEY" in str(err.value)


def test_wrong_key_is_403_and_an_authentication_error_without_the_key(sim: Sim) -> None:
    with pytest.raises(AuthenticationError) as err:
        sim.make(api_key="ITG.wrong-key-123").check()
    assert err.value.status == 403
    assert "HUB_ITGLUE__API_KEY" in str(err.value)
    assert "wrong-key-123" not in str(err.value)


def test_429_retry_after_is_waited_out_on_the_fake_clock(sim: Sim) -> None:
    sim.control.fail_next(429, retry_after=7)
    pages = list(sim.make().stream("organizations").read())
    assert sum(len(p.records) for p in pages) == sim.control.count("organizations")
    assert 7 in sim.clock.sleeps


def test_vendor_budget_429_is_honoured(sim: Sim) -> None:
    """The simulator's budget (measured on the fake clock) refuses past 3 requests a minute;
    the connector, told a larger budget, meets the 429s and waits them out."""
    sim.control.set_budget(3, 60)
    records = [r for p in sim.make().stream("contacts").read() for r in p.records]
    assert len(records) == sim.control.count("contacts")
    assert any(s >= 1 for s in sim.clock.sleeps)


def test_configured_budget_paces_the_connector(sim: Sim) -> None:
    """HUB_ITGLUE__RATE_LIMIT_* set the client's own budget: it waits before IT Glue has to
    refuse. (A token bucket may still meet a 429 from a strict sliding window; it is waited out.)"""
    sim.control.set_budget(3, 60)
    connector = sim.make(rate_limit_requests=3, rate_limit_seconds=60)
    records = [r for p in connector.stream("contacts").read() for r in p.records]
    assert len(records) == sim.control.count("contacts")
    assert connector.client().limiter.waited > 0
    assert connector.client().limiter.limits[0].requests == 3


def test_persistent_429_becomes_rate_limited_error(sim: Sim) -> None:
    sim.control.fail_next(429, count=10, retry_after=1)
    with pytest.raises(RateLimitedError):
        sim.make().check()


def test_5xx_is_retried_then_transient(sim: Sim) -> None:
    sim.control.fail_next(503, count=2)
    assert sim.make().check().ok
    sim.control.fail_next(502, count=10)
    with pytest.raises(TransientError):
        sim.make().check()


def test_422_errors_body_is_the_users_message(sim: Sim) -> None:
    with pytest.raises(VendorError) as err:
        sim.make().create(
            "contacts",
            {
                "attributes": {
                    "organization-id": 100001,
                    "contact-emails": [{"primary": True, "value": "not-an-address"}],
                }
            },
        )
    assert err.value.status == 422
    assert err.value.vendor_message == "contact-emails: must be a valid email address"
    assert "must be a valid email address" in str(err.value)


def test_unknown_organization_is_not_found(sim: Sim) -> None:
    with pytest.raises(NotFoundError):
        sim.make().create("contacts", {"attributes": {"organization-id": 999999999, "first-name": "X"}})


def test_body_without_vnd_api_json_is_415(sim: Sim) -> None:
    response = httpx.post(
        f"{sim.url}/organizations",
        headers={"x-api-key": sim.control.api_key},
        json={"data": {"type": "organizations", "attributes": {"name": "X"}}},
    )
    assert response.status_code == 415


def test_page_size_over_1000_is_refused_by_the_simulator(sim: Sim) -> None:
    response = httpx.get(
        f"{sim.url}/organizations", params={"page[size]": 1001}, headers={"x-api-key": sim.control.api_key}
    )
    assert response.status_code == 400
