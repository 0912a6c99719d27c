"""Datto RMM's token grant as an ``httpx.Auth`` flow.

The OpenAPI spec declares no security scheme; the vendor's API page (Datto RMM help,
"Datto RMM API", Setup > Global Settings > Access Control) documents OAuth 2.0 access
tokens requested with the API user's keys: ``POST {platform}/auth/oauth/token`` with
HTTP Basic ``public-client:public`` (the platform's public client) and the form
``grant_type=password&username=<API key>&password=<API secret>``. The answer is a
standard OAuth 2.0 token response (``access_token``, ``token_type`` bearer,
``expires_in``); calls then send ``Authorization: Bearer <token>``. "API access tokens
expire after 100 hours. After this period, a new token must be requested or an HTTP
status code of 401 (Unauthorized) will be returned."

So the flow:

* no token yet, or it ends within :data:`REFRESH_MARGIN`: request one (there is no
  refresh token to use: the vendor says to request a new one);
* an API call answered 401 although the token looked valid (the keys were regenerated,
  or the platform forgot the token): request a new token and repeat the call, once;
* a token request answered 429 or 5xx comes back as the call's answer, so the one retry
  layer (:class:`hub.sdk.HttpClient`) waits and tries again; any other refusal (Spring's
  ``400 invalid_grant``, ``401``) raises :class:`~hub.sdk.AuthenticationError` naming
  the settings, with the vendor's own words.

The token lives in memory only: it is a bearer secret for 100 hours, and a new run
asking for a new one costs one request.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Generator
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from hub.sdk import AuthenticationError, Clock, message_from

__all__ = ["PUBLIC_CLIENT", "REFRESH_MARGIN", "TOKEN_PATH", "DattoToken", "DattormmAuth"]

TOKEN_PATH = "/auth/oauth/token"  # noqa: S105 - a path, not a password
#: the platform's public OAuth client, documented with the token request
PUBLIC_CLIENT = ("public-client", "public")
#: request a new token this long before the current one ends (never more than half its life)
REFRESH_MARGIN = 300.0
#: what the connector tells the user to check when the platform refuses the keys
AUTH_HINT = "HUB_DATTORMM__API_KEY, HUB_DATTORMM__API_SECRET and HUB_DATTORMM__API_URL (the platform)"


@dataclass(frozen=True)
class DattoToken:
    """An access token and when it ends, on the connector's monotonic clock."""

    value: str
    ends: float
    margin: float

    def fresh(self, now: float) -> bool:
        return now < self.ends - self.margin


def _basic(client: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{client[0]}:{client[1]}".encode()).decode()


#: the OAuth 2.0 error of a refused token request (``error_description`` or ``error``)
_oauth_message = message_from("{error_description}", "{message}", "{error}")


class DattormmAuth(httpx.Auth):
    """Request, cache and (after a 401) re-request Datto RMM access tokens."""

    requires_response_body = True

    def __init__(self, connector: str, api_url: str, key: SecretStr, secret: SecretStr, clock: Clock) -> None:
        self._connector = connector
        self._token_url = api_url.rstrip("/") + TOKEN_PATH
        self._key = key
        self._secret = secret
        self._clock = clock
        self._lock = threading.Lock()
        self._token: DattoToken | None = None
        #: tokens granted so far (``hub check`` and tests read it)
        self.grants = 0

    @property
    def token(self) -> DattoToken | None:
        with self._lock:
            return self._token

    def forget(self) -> None:
        with self._lock:
            self._token = None

    # -- the flow -------------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token
        if token is None or not token.fresh(self._clock.monotonic()):
            granted = yield from self._grant()
            if granted is None:
                return
            token = granted
        response = yield self._authorized(request, token)
        if response.status_code == 401:
            # a token the platform issued and now refuses (keys regenerated): once more
            self.forget()
            granted = yield from self._grant()
            if granted is not None:
                yield self._authorized(request, granted)

    # -- steps ----------------------------------------------------------------------

    def _grant(self) -> Generator[httpx.Request, httpx.Response, DattoToken | None]:
        """Request a token; None when the answer (429, 5xx) is left for the retry layer."""
        request = httpx.Request(
            "POST",
            self._token_url,
            data={
                "grant_type": "password",
                "username": self._key.get_secret_value(),
                "password": self._secret.get_secret_value(),
            },
            headers={"Authorization": _basic(PUBLIC_CLIENT), "Accept": "application/json"},
        )
        response = yield request
        if response.status_code == 429 or response.status_code >= 500:
            return None
        if response.status_code != 200:
            raise self._refused(response, "the platform refused the API keys")
        try:
            body = response.json()
            value = str(body["access_token"])
            life = float(body["expires_in"])
            if not value or life <= 0:
                raise ValueError("empty token or lifetime")
        except (KeyError, TypeError, ValueError):
            raise self._refused(response, "the token answer has no access token") from None
        token = DattoToken(value, self._clock.monotonic() + life, min(REFRESH_MARGIN, life / 2))
        with self._lock:
            self._token = token
            self.grants += 1
        return token

    @staticmethod
    def _authorized(request: httpx.Request, token: DattoToken) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.value}"
        return request

    def _refused(self, response: httpx.Response, what: str) -> AuthenticationError:
        message = _oauth_message(response)
        for secret in (self._key.get_secret_value(), self._secret.get_secret_value()):
            if message and secret:
                message = message.replace(secret, "***")  # an echo of the keys never reaches a log
        return AuthenticationError(
            f"{what}; check {AUTH_HINT}",
            connector=self._connector,
            method="POST",
            url=self._token_url,
            status=response.status_code,
            vendor_message=message,
        )
