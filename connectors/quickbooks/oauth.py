"""OAuth 2.0 for QuickBooks Online: access tokens from a rotating refresh token.

Intuit answers every refresh with a *new* refresh token and the one just used stops
working (python-quickbooks issue 150). Losing the new one locks the hub out until
someone reconnects the app, so the order of steps is the whole design:

1. Pick the refresh token: the one in the state store if it descends from the token in
   ``HUB_QUICKBOOKS__REFRESH_TOKEN`` (a fingerprint of the settings token is stored with
   it), otherwise the settings token. The settings value cannot be updated by the hub,
   so after the first refresh it is stale and the stored one must win; a *changed*
   setting means someone reconnected the app, and the new chain starts from it.
2. Record in the state store that a refresh is under way (``refreshing_since``).
3. Exchange the token at the token endpoint.
4. Store the new refresh token, access token and expiry in one atomic state write,
   committed *before* the access token is handed to any request.

Steps 1 to 4 run under the hub's lock ``quickbooks:refresh:<realm>``
(``ConnectorContext.lock``): one thread of one process refreshes at a time, across every
process sharing the state store (``hub serve`` and each ``hub worker``), and whoever
waited for it reads the token set the other one stored instead of spending the refresh
token a second time.

A crash after step 4 loses nothing: the next start reads the stored token. A crash
between steps 3 and 4 cannot be repaired by any client (the new token never reached
durable storage and the old one is spent); the marker of step 2 lets the next start
say exactly that, and the hub picks up a new token as soon as the setting changes -
no state needs clearing by hand.

Access tokens are refreshed when less than :data:`EXPIRY_MARGIN` of their hour is left,
and once more when the API answers 401 (:class:`BearerAuth`).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import httpx

from connectors.quickbooks.settings import QuickBooksSettings
from hub.sdk import (
    AuthenticationError,
    Clock,
    HttpClient,
    HubError,
    KeyValueStore,
    RateLimitedError,
    TransientError,
    VendorError,
    message_from,
    parse_timestamp,
)

#: the state-store key of the current token set (one value, so each write is atomic)
STATE_KEY = "oauth_tokens"
#: refresh access tokens this long before they expire
EXPIRY_MARGIN = timedelta(minutes=5)

SETTING = "HUB_QUICKBOOKS__REFRESH_TOKEN"
RECONNECT = (
    f"reconnect the app to the QuickBooks company and put the new refresh token in {SETTING} "
    "(the hub switches to a changed setting by itself)"
)


class TokenEndpointUnavailable(HubError):
    """The token endpoint failed while an API request waited for a token.

    Raised instead of the token client's own :class:`TransientError` so that the API
    client does not retry a request whose token refresh already went through the one
    retry layer (no retries on top of retries).
    """

    failure_type = TransientError.failure_type


def fingerprint(token: str) -> str:
    """A one-way tag of a settings token, stored to know which chain the stored token extends."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


#: the token endpoint's ``error: error_description``, shown to the user
token_error_message = message_from("{error}: {error_description}", "{error}", "{error_description}", limit=200)


class TokenManager:
    """Hands out valid access tokens and keeps the refresh-token chain in the state store."""

    def __init__(
        self,
        settings: QuickBooksSettings,
        state: KeyValueStore,
        clock: Clock,
        client_factory: Callable[[], HttpClient],
        lock: Callable[[str], AbstractContextManager[None]] | None = None,
    ) -> None:
        self._settings = settings
        self._state = state
        self._clock = clock
        self._client_factory = client_factory
        self._client: HttpClient | None = None
        self._lock = threading.Lock()
        local = threading.Lock()
        #: held while a refresh token is read, spent and replaced (across processes in a hub)
        self._refresh_lock: Callable[[str], AbstractContextManager[Any]] = lock or (lambda _name: local)
        self._lock_name = f"quickbooks:refresh:{settings.realm_id}"
        self._current: dict[str, Any] | None = None
        self.refreshes = 0

    # -- public -------------------------------------------------------------------

    def access_token(self) -> str:
        """A token valid for at least :data:`EXPIRY_MARGIN`, refreshing if needed."""
        with self._lock:
            if self._usable(self._current):
                return str(self._current["access_token"])  # type: ignore[index]
            with self._refresh_lock(self._lock_name):
                stored = self._stored()  # another thread or process may have refreshed
                if self._usable(stored):
                    self._current = stored
                    return str(stored["access_token"])  # type: ignore[index]
                return self._refresh()

    def renew(self, rejected: str) -> str:
        """The API refused ``rejected`` (401): a different valid token, refreshing if needed."""
        with self._lock, self._refresh_lock(self._lock_name):
            for candidate in (self._current, self._stored()):
                if self._usable(candidate) and candidate["access_token"] != rejected:  # type: ignore[index]
                    self._current = candidate
                    return str(candidate["access_token"])  # type: ignore[index]
            return self._refresh()

    def describe(self) -> dict[str, str]:
        """Where the refresh token comes from and when things expire (never the tokens)."""
        stored = self._stored()
        if stored is None:
            return {"refresh token": f"{SETTING} (not refreshed yet)"}
        details = {"refresh token": f"state store (rotated {stored.get('rotated_at') or 'never'})"}
        if stored.get("expires_at"):
            details["access token expires"] = str(stored["expires_at"])
        if stored.get("refresh_expires_at"):
            details["refresh token expires"] = str(stored["refresh_expires_at"])
        return details

    # -- internals ----------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock.now()

    def _seed(self) -> str:
        return fingerprint(self._settings.refresh_token.get_secret_value())

    def _stored(self) -> dict[str, Any] | None:
        """The stored token set if it extends the chain of the current settings token."""
        value = self._state.get(STATE_KEY)
        if isinstance(value, dict) and value.get("seed") == self._seed() and value.get("refresh_token"):
            return value
        return None

    def _usable(self, tokens: dict[str, Any] | None) -> bool:
        if not tokens or not tokens.get("access_token") or not tokens.get("expires_at"):
            return False
        expires = parse_timestamp(tokens["expires_at"])
        return expires is not None and expires - EXPIRY_MARGIN > self._now()

    def _refresh(self) -> str:
        stored = self._stored()
        if stored is not None:
            token, origin = str(stored["refresh_token"]), "state"
        else:
            token, origin = self._settings.refresh_token.get_secret_value(), "settings"
        now = self._now()
        # Step 2: a durable note that this token is being spent right now.
        self._state.set(
            STATE_KEY,
            {
                "refresh_token": token,
                "seed": self._seed(),
                "access_token": None,
                "expires_at": None,
                "rotated_at": stored.get("rotated_at") if stored else None,
                "refresh_expires_at": stored.get("refresh_expires_at") if stored else None,
                "refreshing_since": now.isoformat(),
            },
        )
        answer = self._exchange(token, origin, stored)
        expires_in = int(answer.get("expires_in") or 3600)
        refresh_in = answer.get("x_refresh_token_expires_in")
        access = str(answer["access_token"])
        tokens = {
            "refresh_token": str(answer["refresh_token"]),
            "seed": self._seed(),
            "access_token": access,
            "expires_at": (now + timedelta(seconds=expires_in)).isoformat(),
            "rotated_at": now.isoformat(),
            "refresh_expires_at": (now + timedelta(seconds=int(refresh_in))).isoformat()
            if refresh_in
            else None,
            "refreshing_since": None,
        }
        # Step 4: committed before the access token is used by anything.
        self._state.set(STATE_KEY, tokens)
        self._current = tokens
        self.refreshes += 1
        return access

    def _token_client(self) -> HttpClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _exchange(self, token: str, origin: str, stored: dict[str, Any] | None) -> dict[str, Any]:
        client = self._token_client()
        basic = base64.b64encode(
            f"{self._settings.client_id}:{self._settings.client_secret.get_secret_value()}".encode()
        ).decode()
        try:
            # a token exchange creates nothing: repeating it after a lost answer is safe
            response = client.post(
                self._settings.token_url,
                replayable=True,
                data={"grant_type": "refresh_token", "refresh_token": token},
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            )
        except VendorError as exc:
            if "invalid_grant" in (exc.vendor_message or ""):
                raise self._invalid_grant(exc, origin, stored) from None
            raise
        try:
            answer = response.json()
        except ValueError:
            raise client.error(response, "token endpoint answered with a body that is not JSON") from None
        if not isinstance(answer, dict) or not answer.get("access_token") or not answer.get("refresh_token"):
            raise client.error(response, "token endpoint answered without access_token and refresh_token")
        return answer

    def _invalid_grant(
        self, exc: VendorError, origin: str, stored: dict[str, Any] | None
    ) -> AuthenticationError:
        if origin == "settings":
            message = (
                f"QuickBooks refused {SETTING} (invalid_grant): it was already used, expired or revoked; "
                + RECONNECT
            )
        elif stored and stored.get("refreshing_since"):
            message = (
                "QuickBooks refused the stored refresh token (invalid_grant): a refresh started at "
                f"{stored['refreshing_since']} never saved its answer (the process stopped between the "
                "refresh and the save), so QuickBooks rotated the token and the new one was lost; "
                + RECONNECT
            )
        else:
            rotated = stored.get("rotated_at") if stored else None
            message = (
                f"QuickBooks refused the refresh token stored at {rotated or 'an unknown time'} "
                "(invalid_grant): it was revoked or expired, or another hub with a different state store "
                "used it; " + RECONNECT
            )
        return AuthenticationError(
            message,
            connector="quickbooks",
            method=exc.method,
            url=exc.url,
            status=exc.status,
            vendor_message=exc.vendor_message,
        )


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer`` on every request; one refresh and resend on a 401."""

    def __init__(self, tokens: TokenManager) -> None:
        self.tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token(self.tokens.access_token)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = self._token(lambda: self.tokens.renew(token))
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    @staticmethod
    def _token(get: Callable[[], str]) -> str:
        try:
            return get()
        except (TransientError, RateLimitedError) as exc:
            raise TokenEndpointUnavailable(f"quickbooks: token refresh failed: {exc}") from None
