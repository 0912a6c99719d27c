"""N-central's token exchange as an ``httpx.Auth`` flow.

N-central never accepts the API user's JWT on ordinary calls: the JWT is exchanged at
``POST /api/auth/authenticate`` (``Authorization: Bearer <JWT>``) for an access token
(sent as ``Bearer``, one hour by default) and a refresh token (sent *in the body* of
``POST /api/auth/refresh``, 25 hours by default). The flow:

* no tokens yet, or the refresh token has run out: exchange the JWT;
* the access token ends within :data:`REFRESH_MARGIN` seconds: refresh it, and exchange
  the JWT again if the refresh is refused;
* an API call answered 401 although the token looked valid: N-central keeps its keys in
  memory, so a restart of the server invalidates every token (documented under "REST
  API known issues"). The JWT is exchanged once more and the call repeated, once.

Living inside ``httpx`` means the one retry layer (:class:`hub.sdk.HttpClient`) sees
the outcome: a refused exchange comes back as the final response, so a 401 becomes an
:class:`~hub.sdk.AuthenticationError` naming ``HUB_NCENTRAL__JWT``, a 429 or 5xx of the
exchange is retried like any other call, and an error reported inside a 200 is caught
by the connector's ``inspect``.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from hub.sdk import AuthenticationError, Clock

from .answers import error_in_body

__all__ = ["AUTHENTICATE_PATH", "REFRESH_MARGIN", "REFRESH_PATH", "NcentralAuth", "Tokens"]

AUTHENTICATE_PATH = "/api/auth/authenticate"
REFRESH_PATH = "/api/auth/refresh"
#: refresh this long before the access token ends (never more than half its lifetime)
REFRESH_MARGIN = 60.0


@dataclass(frozen=True)
class Tokens:
    """An access/refresh pair and when each ends, on the connector's monotonic clock."""

    access: str
    refresh: str
    access_ends: float
    refresh_ends: float
    margin: float

    def access_fresh(self, now: float) -> bool:
        return now < self.access_ends - self.margin

    def refresh_usable(self, now: float) -> bool:
        return now < self.refresh_ends - self.margin


class NcentralAuth(httpx.Auth):
    """Exchange, refresh and (after a server restart) re-exchange N-central tokens."""

    requires_response_body = True

    def __init__(self, connector: str, base_url: str, jwt: SecretStr, clock: Clock) -> None:
        self._connector = connector
        self._base_url = base_url.rstrip("/")
        self._jwt = jwt
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: Tokens | None = None
        self.exchanges = 0
        self.refreshes = 0

    # -- the flow -------------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        now = self._clock.monotonic()
        tokens = self.tokens
        if tokens is None or not tokens.refresh_usable(now):
            if not (yield from self._exchange()):
                return
        elif not tokens.access_fresh(now):
            refreshed = yield self._refresh_request(tokens)
            if not self._accept(refreshed, refresh=True) and not (yield from self._exchange()):
                return
        response = yield self._authorized(request)
        if response.status_code == 401:
            # A token the server issued and now refuses: it restarted. Exchange once more.
            self.forget()
            if (yield from self._exchange()):
                yield self._authorized(request)

    @property
    def tokens(self) -> Tokens | None:
        with self._lock:
            return self._tokens

    def forget(self) -> None:
        with self._lock:
            self._tokens = None

    # -- steps ----------------------------------------------------------------------

    def _exchange(self) -> Generator[httpx.Request, httpx.Response, bool]:
        """Exchange the JWT; False (and the refusal is the flow's answer) if refused."""
        request = httpx.Request(
            "POST",
            self._base_url + AUTHENTICATE_PATH,
            headers={"Authorization": f"Bearer {self._jwt.get_secret_value()}", "Accept": "application/json"},
        )
        response = yield request
        return self._accept(response, refresh=False)

    def _refresh_request(self, tokens: Tokens) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._base_url + REFRESH_PATH,
            content=tokens.refresh.encode(),
            headers={"Content-Type": "text/plain", "Accept": "application/json"},
        )

    def _authorized(self, request: httpx.Request) -> httpx.Request:
        tokens = self.tokens
        assert tokens is not None  # set by a successful exchange or refresh just before
        request.headers["Authorization"] = f"Bearer {tokens.access}"
        return request

    def _accept(self, response: httpx.Response, *, refresh: bool) -> bool:
        """Keep the tokens of a 200 answer; False for any refusal (left for the caller)."""
        if response.status_code != 200:
            return False
        try:
            body = response.json()
        except ValueError:
            body = None
        if error_in_body(body) is not None:
            return False  # the connector's inspect reports N-central's own message
        try:
            access = body["tokens"]["access"]
            refresh_token = body["tokens"]["refresh"]
            tokens = self._tokens_from(access, refresh_token)
        except (KeyError, TypeError, ValueError):
            raise AuthenticationError(
                "N-central answered the token exchange without tokens; check HUB_NCENTRAL__BASE_URL",
                connector=self._connector,
                method=response.request.method,
                url=str(response.request.url),
                status=response.status_code,
            ) from None
        with self._lock:
            self._tokens = tokens
            if refresh:
                self.refreshes += 1
            else:
                self.exchanges += 1
        return True

    def _tokens_from(self, access: dict[str, Any], refresh: dict[str, Any]) -> Tokens:
        now = self._clock.monotonic()
        access_life = float(access["expirySeconds"])
        refresh_life = float(refresh["expirySeconds"])
        if not access["token"] or not refresh["token"] or access_life <= 0 or refresh_life <= 0:
            raise ValueError("empty token or lifetime")
        return Tokens(
            access=str(access["token"]),
            refresh=str(refresh["token"]),
            access_ends=now + access_life,
            refresh_ends=now + refresh_life,
            margin=min(REFRESH_MARGIN, access_life / 2),
        )
