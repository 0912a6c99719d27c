"""Token refresh, restart recovery and the vendor's fault answers, against the simulator."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hub.sdk import AuthenticationError, RateLimitedError, TransientError, VendorError

from .conftest import Served


def customers(conn: Any) -> list[dict[str, Any]]:
    return [r for p in conn.stream("customers").read() for r in p.records]


def test_one_exchange_serves_many_calls(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    list(conn.stream("devices").read())
    assert conn.auth.exchanges == 1 and conn.auth.refreshes == 0
    assert sim.control.calls("/api/auth/authenticate") == 1


def test_access_token_is_refreshed_before_it_expires(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.clock.advance(3600 - 30)  # server and connector share the clock
    customers(conn)
    assert (conn.auth.exchanges, conn.auth.refreshes) == (1, 1)
    assert sim.control.calls("/api/auth/refresh") == 1


def test_expired_refresh_token_leads_to_a_new_exchange(simulator: Any) -> None:
    sim = simulator(access_seconds=600, refresh_seconds=1200)
    conn = sim.connector()
    customers(conn)
    sim.clock.advance(1300)
    customers(conn)
    assert (conn.auth.exchanges, conn.auth.refreshes) == (2, 0)


def test_refused_refresh_falls_back_to_an_exchange(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.control.restart()  # the refresh token is gone too
    sim.clock.advance(3600 - 30)
    assert customers(conn)
    assert (conn.auth.exchanges, conn.auth.refreshes) == (2, 0)
    assert sim.control.calls("/api/auth/refresh") == 1


def test_server_restart_is_recovered_by_exchanging_the_jwt_once(sim: Served) -> None:
    conn = sim.connector()
    before = customers(conn)
    sim.control.restart()
    assert customers(conn) == before
    assert conn.auth.exchanges == 2


def test_tokens_expiring_on_the_server_only_are_recovered(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.control.advance(4000)  # the server's time moves, the connector's does not
    assert customers(conn)
    assert conn.auth.exchanges == 2


def test_wrong_jwt_is_refused_with_n_centrals_401(sim: Served) -> None:
    conn = sim.connector(jwt="eyJ.not-the-api-users-token.x")
    with pytest.raises(AuthenticationError) as err:
        customers(conn)
    assert "HUB_NCENTRAL__JWT" in str(err.value)
    assert "JWT is invalid or has been revoked" in str(err.value)
    assert "not-the-api-users-token" not in str(err.value)


def test_a_second_401_after_re_exchange_is_an_authentication_error(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.control.fail_next(401, count=3)  # the call, the exchange: refused
    with pytest.raises(AuthenticationError):
        customers(conn)


def test_error_inside_200_is_raised(sim: Served) -> None:
    conn = sim.connector()
    sim.control.fail_in_200("Unexpected response from DMS: The DMS response indicates a failure")
    with pytest.raises(VendorError, match="DMS response indicates a failure"):
        list(conn.stream("devices").read())


def test_429_with_retry_after_then_success(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.control.fail_next(429, count=2, retry_after=4)
    assert customers(conn)
    assert sim.clock.sleeps.count(4) == 2


def test_429_without_retry_after_backs_off_exponentially(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.control.fail_next(429, count=2)
    assert customers(conn)
    assert sim.clock.sleeps[-2:] == [1.0, 2.0]


def test_spent_budget_answers_429_until_the_window_passes(simulator: Any) -> None:
    sim = simulator(budget=3, budget_window=3)
    conn = sim.connector()
    customers(conn)  # exchange + one page
    customers(conn)  # the third call is allowed, then 429 until 3 s passed
    assert customers(conn)
    assert conn.client().rate_limited >= 1
    assert sum(sim.clock.sleeps) >= 3


def test_persistent_429_is_a_rate_limited_error(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.control.fail_next(429, count=10)
    with pytest.raises(RateLimitedError):
        customers(conn)


def test_5xx_retried_then_transient_error(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.control.fail_next(500, count=1)
    assert customers(conn)
    sim.control.fail_next(503, count=4)  # as many as the attempts
    with pytest.raises(TransientError, match="Unexpected response from DMS"):
        customers(conn)


def test_tokens_and_jwt_never_reach_the_logs(
    sim: Served, capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    conn = sim.connector()
    customers(conn)
    sim.control.restart()
    customers(conn)
    tokens = conn.auth.tokens
    assert tokens is not None
    out = capsys.readouterr()
    logged = out.out + out.err + caplog.text
    for secret in (sim.base_settings["jwt"], tokens.access, tokens.refresh):
        assert secret not in logged
    assert sim.base_settings["jwt"] not in repr(conn.settings)


def test_too_many_concurrent_calls_answer_429_until_they_finish(sim: Served) -> None:
    conn = sim.connector()
    customers(conn)
    sim.control.occupy("customers", calls=5, seconds=2.5)  # the endpoint's limit is 5
    assert customers(conn)
    assert conn.client().rate_limited == 2
    assert sim.clock.sleeps[-2:] == [1.0, 2.0]


def test_active_issues_allow_three_concurrent_calls(simulator: Any) -> None:
    sim = simulator(alerts=5)
    conn = sim.connector()
    sim.control.occupy("active-issues", calls=2, seconds=60)
    assert list(conn.stream("active_issues").read())  # a third call still fits
    sim.control.occupy("active-issues", calls=3, seconds=60)
    with pytest.raises(RateLimitedError, match="Too many concurrent requests"):
        list(conn.stream("active_issues").read())
