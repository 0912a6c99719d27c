"""Bearer tokens from an OAuth 2.0 token endpoint, as an ``httpx.Auth`` flow.

Many vendors hand out access tokens for a credential (RFC 6749 §4.4 client credentials,
or a password grant with the API user's keys) with no refresh token: a token is asked for
the same way each time. What a connector needs of that is the same everywhere, so it is
here once; a connector says only how its token request looks (:meth:`TokenGrantAuth.token_request`)
and which settings the user should check when it is refused.

The flow:

* no token yet, or it ends within its margin (``refresh_margin``, never more than half
  its life): ask for one;
* an API call answered 401 although the token looked valid (the secret was regenerated,
  the vendor forgot the token): ask for a new token and repeat the call, once;
* a token request answered 429 or 5xx comes back as the call's answer, so the one retry
  layer (:class:`hub.http.HttpClient`) waits and tries again; any other refusal (RFC 6749
  §5.2: ``invalid_client``, ``invalid_grant`` ...) raises :class:`~hub.errors.AuthenticationError`
  naming the settings, with the vendor's own words and any echo of a secret masked.

The token lives in memory only: it is a bearer secret, and a new run asking for a new one
costs one request.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from hub.clock import Clock
from hub.errors import AuthenticationError

__all__ = ["AccessToken", "TokenGrantAuth"]


@dataclass(frozen=True)
class AccessToken:
    """An access token, the scopes granted (``""`` where the vendor has none), and when it
    ends on the connector's monotonic clock."""

    value: str
    ends: float
    margin: float
    scopes: str = ""

    def fresh(self, now: float) -> bool:
        return now < self.ends - self.margin


class TokenGrantAuth(httpx.Auth, ABC):
    """Ask for, cache and (after a 401) ask again for a vendor's access tokens.

    ``refused`` says what was refused in the user's words ("the platform refused the API
    keys"), ``hint`` the settings to check, ``secrets`` the values masked in a vendor's
    error message, ``message`` reads that message from the token endpoint's answer.
    """

    requires_response_body = True
    #: ask for a new token this long before the current one ends (never more than half its life)
    refresh_margin: float = 120.0

    def __init__(
        self,
        connector: str,
        token_url: str,
        clock: Clock,
        *,
        refused: str,
        hint: str,
        secrets: Sequence[SecretStr | str],
        message: Callable[[httpx.Response], str | None],
    ) -> None:
        self._connector = connector
        self._token_url = token_url
        self._clock = clock
        self._refused_what = refused
        self._hint = hint
        self._secrets = secrets
        self._message = message
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        #: tokens granted so far (``hub check`` and tests read it)
        self.grants = 0

    @abstractmethod
    def token_request(self) -> httpx.Request:
        """The vendor's token request (method, URL :attr:`token_url`, form, headers)."""

    def granted_scopes(self, body: dict[str, Any]) -> str:
        """The scopes the token answer grants (RFC 6749 §5.1 ``scope``); none by default."""
        return ""

    @property
    def token_url(self) -> str:
        return self._token_url

    @property
    def token(self) -> AccessToken | None:
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
            # a token the vendor issued and now refuses: once more with a new one
            self.forget()
            granted = yield from self._grant()
            if granted is not None:
                yield self._authorized(request, granted)

    def _grant(self) -> Generator[httpx.Request, httpx.Response, AccessToken | None]:
        """Ask for a token; None when the answer (429, 5xx) is left for the retry layer."""
        response = yield self.token_request()
        if response.status_code == 429 or response.status_code >= 500:
            return None
        if response.status_code != 200:
            raise self._refused(response, self._refused_what)
        try:
            body = response.json()
            value = str(body["access_token"])
            life = float(body["expires_in"])
            if not value or life <= 0:
                raise ValueError("empty token or lifetime")
        except (KeyError, TypeError, ValueError):
            raise self._refused(response, "the token answer has no access token") from None
        margin = min(self.refresh_margin, life / 2)
        token = AccessToken(value, self._clock.monotonic() + life, margin, self.granted_scopes(body))
        with self._lock:
            self._token = token
            self.grants += 1
        return token

    @staticmethod
    def _authorized(request: httpx.Request, token: AccessToken) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.value}"
        return request

    def _refused(self, response: httpx.Response, what: str) -> AuthenticationError:
        message = self._message(response)
        for secret in self._secrets:
            value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
            if message and value:
                message = message.replace(value, "***")  # an echo of a secret never reaches a log
        return AuthenticationError(
            f"{what}; check {self._hint}",
            connector=self._connector,
            method="POST",
            url=self._token_url,
            status=response.status_code,
            vendor_message=message,
        )
