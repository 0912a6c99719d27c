"""NinjaOne's OAuth 2.0 client-credentials grant as an ``httpx.Auth`` flow.

The spec declares the API's security as a bearer token (``securitySchemes.oauth2``: HTTP
``bearer``) with the scopes ``monitoring``, ``management`` and ``control``, but not where
tokens come from. The vendor's API documentation ("Register Machine-to-Machine
Applications", NinjaOne API docs) does: a client app of the "API Services" platform with
the Client Credentials grant asks ``POST {instance}/ws/oauth/token`` with the form
``grant_type=client_credentials&client_id=..&client_secret=..&scope=monitoring management``
and gets a standard OAuth 2.0 token response (RFC 6749 §4.4.3, §5.1: ``access_token``,
``token_type``, ``expires_in``; an hour in practice). There is no refresh token in this
grant: a new token is asked for the same way.

So the flow:

* no token yet, or it ends within :data:`REFRESH_MARGIN`: ask for one;
* an API call answered 401 although the token looked valid (the secret was regenerated,
  the instance forgot the token): ask for a new token and repeat the call, once;
* a token request answered 429 or 5xx comes back as the call's answer, so the one retry
  layer (:class:`hub.sdk.HttpClient`) waits and tries again; any other refusal (RFC 6749
  §5.2: ``invalid_client``, ``invalid_scope`` ...) raises :class:`~hub.sdk.AuthenticationError`
  naming the settings, with the vendor's own words.

The token lives in memory only: it is a bearer secret, and a new run asking for a new one
costs one request.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from hub.sdk import AuthenticationError, Clock, message_from

__all__ = ["AUTH_HINT", "REFRESH_MARGIN", "TOKEN_PATH", "NinjaToken", "NinjaoneAuth"]

TOKEN_PATH = "/ws/oauth/token"  # noqa: S105 - a path, not a password
#: ask for a new token this long before the current one ends (never more than half its life)
REFRESH_MARGIN = 120.0
#: what the connector tells the user to check when the instance refuses the client app
AUTH_HINT = "HUB_NINJAONE__CLIENT_ID, HUB_NINJAONE__CLIENT_SECRET and HUB_NINJAONE__API_URL (the instance)"

#: an OAuth 2.0 error (RFC 6749 §5.2), or NinjaOne's own error body
_oauth_message = message_from("{error_description}", "{errorMessage}", "{message}", "{error}")


@dataclass(frozen=True)
class NinjaToken:
    """An access token, the scopes granted, and when it ends on the connector's monotonic clock."""

    value: str
    ends: float
    margin: float
    scopes: str

    def fresh(self, now: float) -> bool:
        return now < self.ends - self.margin


class NinjaoneAuth(httpx.Auth):
    """Ask for, cache and (after a 401) ask again for NinjaOne access tokens."""

    requires_response_body = True

    def __init__(
        self, connector: str, api_url: str, client_id: str, secret: SecretStr, scopes: str, clock: Clock
    ) -> None:
        self._connector = connector
        self._token_url = api_url.rstrip("/") + TOKEN_PATH
        self._client_id = client_id
        self._secret = secret
        self._scopes = scopes
        self._clock = clock
        self._lock = threading.Lock()
        self._token: NinjaToken | None = None
        #: tokens granted so far (``hub check`` and tests read it)
        self.grants = 0

    @property
    def token(self) -> NinjaToken | None:
        with self._lock:
            return self._token

    def forget(self) -> None:
        with self._lock:
            self._token = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token
        if token is None or not token.fresh(self._clock.monotonic()):
            granted = yield from self._grant()
            if granted is None:
                return
            token = granted
        response = yield self._authorized(request, token)
        if response.status_code == 401:
            # a token the instance issued and now refuses: once more with a new one
            self.forget()
            granted = yield from self._grant()
            if granted is not None:
                yield self._authorized(request, granted)

    def _grant(self) -> Generator[httpx.Request, httpx.Response, NinjaToken | None]:
        """Ask for a token; None when the answer (429, 5xx) is left for the retry layer."""
        request = httpx.Request(
            "POST",
            self._token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._secret.get_secret_value(),
                "scope": self._scopes,
            },
            headers={"Accept": "application/json"},
        )
        response = yield request
        if response.status_code == 429 or response.status_code >= 500:
            return None
        if response.status_code != 200:
            raise self._refused(response, "the instance refused the client app")
        try:
            body = response.json()
            value = str(body["access_token"])
            life = float(body["expires_in"])
            if not value or life <= 0:
                raise ValueError("empty token or lifetime")
        except (KeyError, TypeError, ValueError):
            raise self._refused(response, "the token answer has no access token") from None
        granted = str(body.get("scope") or self._scopes)
        token = NinjaToken(value, self._clock.monotonic() + life, min(REFRESH_MARGIN, life / 2), granted)
        with self._lock:
            self._token = token
            self.grants += 1
        return token

    @staticmethod
    def _authorized(request: httpx.Request, token: NinjaToken) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.value}"
        return request

    def _refused(self, response: httpx.Response, what: str) -> AuthenticationError:
        message = _oauth_message(response)
        secret = self._secret.get_secret_value()
        if message and secret:
            message = message.replace(secret, "***")  # an echo of the secret never reaches a log
        return AuthenticationError(
            f"{what}; check {AUTH_HINT}",
            connector=self._connector,
            method="POST",
            url=self._token_url,
            status=response.status_code,
            vendor_message=message,
        )
