"""OAuth 2.0 with rotating refresh tokens, against the simulator's token endpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.oauth import STATE_KEY, fingerprint
from connectors.quickbooks.simulator import QuickBooksSimulator
from hub.sdk import AuthenticationError, FakeClock, MemoryKeyValueStore
from hub.state.store import StateStore


class Crash(BaseException):
    """The process dies here (not an Exception: nothing may catch and carry on)."""


class CrashOnSave:
    """A state store whose write of a *refreshed* token set dies: the crash between
    the token endpoint's answer and the save."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def get(self, key: str) -> Any:
        return self.inner.get(key)

    def set(self, key: str, value: Any) -> None:
        if key == STATE_KEY and value.get("refreshing_since") is None:
            raise Crash("killed between refresh and save")
        self.inner.set(key, value)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")


def test_refresh_rotates_and_the_new_token_is_stored_before_use(
    make_connector: Callable[..., QuickBooksConnector], sim: QuickBooksSimulator, store: StateStore
) -> None:
    state = store.kv("connector:quickbooks")
    qb = make_connector(state=state)
    initial = qb.settings.refresh_token.get_secret_value()
    qb.check()
    saved = state.get(STATE_KEY)
    assert sim.refreshes == 1
    assert saved["refresh_token"] != initial and saved["refresh_token"].startswith("sim-rt-")
    assert saved["seed"] == fingerprint(initial)
    assert saved["refreshing_since"] is None
    # the access token in use is the one that was saved
    assert qb.tokens.access_token() == saved["access_token"]


def test_restart_prefers_the_stored_token_over_the_spent_settings_token(
    make_connector: Callable[..., QuickBooksConnector],
    sim: QuickBooksSimulator,
    store: StateStore,
    clock: FakeClock,
) -> None:
    state = store.kv("connector:quickbooks")
    first = make_connector(state=state)
    first.check()
    settings_token = first.settings.refresh_token.get_secret_value()
    clock.advance(2 * 3600)  # the access token expired: the next start must refresh
    again = make_connector(state=state, refresh_token=settings_token)
    again.check()
    assert sim.refreshes == 2
    assert again.tokens.describe()["refresh token"].startswith("state store")


def test_crash_after_save_loses_nothing(
    make_connector: Callable[..., QuickBooksConnector],
    sim: QuickBooksSimulator,
    store: StateStore,
    clock: FakeClock,
) -> None:
    state = store.kv("connector:quickbooks")
    qb = make_connector(state=state)
    qb.tokens.access_token()  # refreshed and saved, then the process dies before any API call
    settings_token = qb.settings.refresh_token.get_secret_value()
    clock.advance(3 * 3600)
    restarted = make_connector(state=state, refresh_token=settings_token)
    assert restarted.check().ok
    assert sim.refreshes == 2


def test_crash_between_refresh_and_save_is_reported_and_a_new_setting_recovers(
    make_connector: Callable[..., QuickBooksConnector],
    sim: QuickBooksSimulator,
    store: StateStore,
    clock: FakeClock,
) -> None:
    state = store.kv("connector:quickbooks")
    qb = make_connector(state=state)
    qb.check()  # a normal first refresh, saved
    stored_before = state.get(STATE_KEY)["refresh_token"]
    settings_token = qb.settings.refresh_token.get_secret_value()

    clock.advance(2 * 3600)  # the saved access token has expired: the next start refreshes
    dying = make_connector(state=CrashOnSave(state), refresh_token=settings_token)
    with pytest.raises(Crash):
        dying.check()
    # QuickBooks rotated the stored token, but its successor never reached the store
    marker = state.get(STATE_KEY)
    assert marker["refresh_token"] == stored_before and marker["refreshing_since"]

    restarted = make_connector(state=state, refresh_token=settings_token)
    with pytest.raises(AuthenticationError) as err:
        restarted.check()
    message = str(err.value)
    assert "invalid_grant" in message
    assert "never saved its answer" in message
    assert "HUB_QUICKBOOKS__REFRESH_TOKEN" in message
    assert stored_before not in message

    # The user reconnects the app and sets the new token: the hub uses it, no state surgery.
    reconnected = make_connector(state=state)
    assert reconnected.check().ok
    assert state.get(STATE_KEY)["seed"] == fingerprint(reconnected.settings.refresh_token.get_secret_value())


def test_a_spent_settings_token_says_so(
    make_connector: Callable[..., QuickBooksConnector],
) -> None:
    first = make_connector()
    first.check()
    # a second hub with an empty state store and the same (now spent) settings token
    second = make_connector(
        state=MemoryKeyValueStore(), refresh_token=first.settings.refresh_token.get_secret_value()
    )
    with pytest.raises(AuthenticationError, match=r"refused HUB_QUICKBOOKS__REFRESH_TOKEN \(invalid_grant\)"):
        second.check()


def test_access_token_is_refreshed_before_it_expires(
    qb: QuickBooksConnector, sim: QuickBooksSimulator, clock: FakeClock
) -> None:
    qb.check()
    clock.advance(50 * 60)
    qb.check()
    assert sim.refreshes == 1  # ten minutes left: still used
    clock.advance(6 * 60)
    before = len(sim.requests)
    qb.check()
    assert sim.refreshes == 2  # under five minutes left: refreshed first, so no 401 and no resend
    assert [r["path"].rsplit("/", 2)[-2] for r in list(sim.requests)[before:]] == ["tokens", "companyinfo"]


def test_a_401_refreshes_once_and_resends(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    qb.check()
    sim.expire_access_tokens()
    assert qb.check().ok
    assert sim.refreshes == 2


def test_bad_credentials_give_an_authentication_error_naming_the_settings(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    qb.check()
    sim.fail_next(401)
    with pytest.raises(AuthenticationError) as err:
        qb.check()
    assert err.value.failure_type == "config"
    assert "HUB_QUICKBOOKS__CLIENT_ID" in str(err.value)


def test_a_wrong_client_secret_names_the_client_settings(
    make_connector: Callable[..., QuickBooksConnector],
) -> None:
    wrong_secret = make_connector(client_secret="wrong")
    with pytest.raises(AuthenticationError, match="invalid_client") as err:
        wrong_secret.check()
    assert "HUB_QUICKBOOKS__CLIENT_SECRET" in str(err.value)
    assert "wrong" not in str(err.value)


def test_two_connectors_on_one_state_share_the_token(
    make_connector: Callable[..., QuickBooksConnector], sim: QuickBooksSimulator, store: StateStore
) -> None:
    state = store.kv("connector:quickbooks")
    a = make_connector(state=state)
    a.check()
    b = make_connector(state=state, refresh_token=a.settings.refresh_token.get_secret_value())
    b.check()
    assert sim.refreshes == 1  # b found a's valid access token in the store


def test_no_token_or_secret_is_logged(
    qb: QuickBooksConnector, capsys: pytest.CaptureFixture[str], sim: QuickBooksSimulator
) -> None:
    qb.check()
    sim.expire_access_tokens()
    list(qb.stream("customers").read())
    out = capsys.readouterr()
    saved = qb.context.state.get(STATE_KEY)
    for secret in (
        qb.settings.client_secret.get_secret_value(),
        qb.settings.refresh_token.get_secret_value(),
        saved["refresh_token"],
        saved["access_token"],
    ):
        assert secret not in out.out + out.err


def test_refresh_token_expiry_is_reported(qb: QuickBooksConnector, clock: FakeClock) -> None:
    details = qb.check().details
    assert details["refresh token expires"].startswith(str((clock.now() + timedelta(days=101)).date()))
    assert all("sim-rt-" not in v and "sim-at-" not in v for v in details.values())


class CountingState(MemoryKeyValueStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key: str) -> Any:
        self.reads += 1
        return super().get(key)


def test_a_valid_access_token_costs_no_state_read(make_connector: Callable[..., QuickBooksConnector]) -> None:
    state = CountingState()
    qb = make_connector(state=state)
    qb.check()
    reads = state.reads
    for _ in range(5):
        qb.get("Customer", "1")
    assert state.reads == reads
