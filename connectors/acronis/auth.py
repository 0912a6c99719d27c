"""Acronis' OAuth 2.0 client-credentials flow as an ``httpx.Auth``.

The API client's ID and secret are exchanged at ``POST {datacenter_url}/api/2/idp/token``
(``Authorization: Basic base64(client_id:client_secret)``, form body
``grant_type=client_credentials``; developer.acronis.com, "Authenticating to the Acronis
platform"). The answer's ``access_token`` is sent as ``Bearer`` on every call of both
APIs until it runs out: Acronis issues it for two hours and answers 401 after that
(developer.acronis.com, connector "API Authentication"). So:

* one token is fetched and reused by every request until :data:`REFRESH_MARGIN`
  seconds before it ends (``expires_in``, else ``expires_on`` against the clock);
* a call answered 401 although the token looked valid (revoked, or the data center
  restarted its session store) fetches one new token and repeats the call, once;
* a refused exchange raises :class:`~hub.sdk.AuthenticationError` naming the settings to
  check; a 429 or 5xx of the exchange is the final answer, so the one retry layer
  (:class:`hub.sdk.HttpClient`) retries it like any call.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Generator
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from hub.sdk import AuthenticationError, Clock

__all__ = ["REFRESH_MARGIN", "TOKEN_PATH", "AcronisAuth", "Token"]

TOKEN_PATH = "/api/2/idp/token"  # noqa: S105 - a path, not a secret
#: fetch a new token this long before the current one ends (never more than half its life)
REFRESH_MARGIN = 60.0
#: settings to name when the data center refuses the credentials
CREDENTIAL_SETTINGS = "HUB_ACRONIS__CLIENT_ID, HUB_ACRONIS__CLIENT_SECRET (and HUB_ACRONIS__DATACENTER_URL)"


@dataclass(frozen=True)
class Token:
    """An access token and when it ends, on the connector's monotonic clock."""

    value: str
    ends: float
    margin: float

    def fresh(self, now: float) -> bool:
        return now < self.ends - self.margin


class AcronisAuth(httpx.Auth):
    """Fetch, reuse and (after a 401) renew the API client's access token."""

    requires_response_body = True

    def __init__(self, connector: str, datacenter_url: str, client_id: str, secret: SecretStr, clock: Clock) -> None:
        self._connector = connector
        self._url = datacenter_url.rstrip("/") + TOKEN_PATH
        self._client_id = client_id
        self._secret = secret
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None
        self.issued = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token
        if token is None or not token.fresh(self._clock.monotonic()):
            if not (yield from self._fetch()):
                return
        response = yield self._authorized(request)
        if response.status_code == 401:
            self.forget()
            if (yield from self._fetch()):
                yield self._authorized(request)

    @property
    def token(self) -> Token | None:
        with self._lock:
            return self._token

    def forget(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, bool]:
        """Exchange the client credentials; False leaves the exchange's answer as the final one."""
        basic = base64.b64encode(f"{self._client_id}:{self._secret.get_secret_value()}".encode()).decode()
        request = httpx.Request(
            "POST",
            self._url,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
        )
        response = yield request
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                f"the data center refused the API client ({_token_error(response)}); check {CREDENTIAL_SETTINGS}",
                connector=self._connector,
                method="POST",
                url=self._url,
                status=response.status_code,
            )
        if response.status_code != 200:
            return False
        self._accept(response)
        return True

    def _accept(self, response: httpx.Response) -> None:
        try:
            body = response.json()
            value = str(body["access_token"])
            life = self._lifetime(body)
            if not value or life <= 0:
                raise ValueError("empty token or lifetime")
        except (KeyError, TypeError, ValueError):
            raise AuthenticationError(
                f"the token answer carried no usable access token; check HUB_ACRONIS__DATACENTER_URL ({self._url})",
                connector=self._connector,
                method="POST",
                url=self._url,
                status=response.status_code,
            ) from None
        token = Token(value, self._clock.monotonic() + life, min(REFRESH_MARGIN, life / 2))
        with self._lock:
            self._token = token
            self.issued += 1

    def _lifetime(self, body: dict[str, object]) -> float:
        """Seconds the token lives: ``expires_in``, else ``expires_on`` (Unix time) minus now."""
        expires_in = body.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            return float(expires_in)
        expires_on = body.get("expires_on")
        if isinstance(expires_on, int | float) and not isinstance(expires_on, bool):
            return float(expires_on) - self._clock.now().timestamp()
        raise ValueError("no expires_in or expires_on")

    def _authorized(self, request: httpx.Request) -> httpx.Request:
        token = self.token
        assert token is not None  # set by the exchange just before
        request.headers["Authorization"] = f"Bearer {token.value}"
        return request


def _token_error(response: httpx.Response) -> str:
    """The IdP's ``error_description`` (tokenError schema), else the status."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        text = body.get("error_description") or body.get("error")
        if isinstance(text, str) and text:
            return text[:200]
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:200]
    return f"HTTP {response.status_code}"
