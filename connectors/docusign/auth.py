"""OAuth JWT grant for DocuSign, and discovery of the account's API host.

DocuSign service integrations authenticate with the JWT grant: the app signs a short
assertion with its RSA private key (``iss`` = integration key, ``sub`` = the
impersonated user, ``aud`` = the auth server's host, scope ``signature impersonation``)
and trades it at ``POST /oauth/token`` for an access token valid about an hour. The
token is kept in memory (never persisted: it is a secret) until shortly before it
expires. The account's API host comes from ``GET /oauth/userinfo``; DocuSign asks
integrations to cache it, so it is kept in the connector's state store.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import jwt

from hub.sdk import AuthenticationError, Clock, ConfigError, HttpClient, KeyValueStore, VendorError, message_from

from .settings import DocuSignSettings

__all__ = ["JWT_GRANT", "SCOPES", "BearerAuth", "JwtGrant", "discover_base_uri", "oauth_error_message"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPES = "signature impersonation"
#: assertion lifetime; DocuSign accepts at most an hour
ASSERTION_SECONDS = 3600
#: refresh this long before the token's stated expiry
REFRESH_MARGIN = timedelta(minutes=5)


#: the auth server's ``{"error", "error_description"}`` as one line
oauth_error_message = message_from("{error}: {error_description}", "{error}", "{error_description}", "{message}")


@dataclass
class _Token:
    value: str
    expires_at: datetime


class JwtGrant:
    """Access tokens for one integration key impersonating one user."""

    def __init__(self, settings: DocuSignSettings, client: HttpClient, clock: Clock) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock
        self._token: _Token | None = None
        self._private_key: bytes | None = None

    def private_key(self) -> bytes:
        if self._private_key is None:
            path = self.settings.private_key_file
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"HUB_DOCUSIGN__PRIVATE_KEY_FILE: cannot read {path}: {exc.strerror or exc}"
                ) from None
            if b"PRIVATE KEY-----" not in data:
                raise ConfigError(f"HUB_DOCUSIGN__PRIVATE_KEY_FILE: {path} holds no PEM RSA private key")
            self._private_key = data
        return self._private_key

    def assertion(self) -> str:
        now = int(self.clock.now().timestamp())
        claims = {
            "iss": self.settings.integration_key,
            "sub": self.settings.user_id,
            "aud": self.settings.auth_audience,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
            "scope": SCOPES,
        }
        try:
            return jwt.encode(claims, self.private_key(), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError(
                f"HUB_DOCUSIGN__PRIVATE_KEY_FILE: {self.settings.private_key_file} is not a usable RSA key "
                f"({type(exc).__name__})"
            ) from None

    def token(self) -> str:
        """A valid access token, from the cache unless it is about to expire."""
        if self._token is None or self.clock.now() >= self._token.expires_at - REFRESH_MARGIN:
            self._token = self._fetch()
        return self._token.value

    def invalidate(self) -> None:
        self._token = None

    def _fetch(self) -> _Token:
        try:
            # a token grant creates nothing: repeating it after a lost answer is safe
            response = self.client.post(
                "/oauth/token",
                replayable=True,
                data={"grant_type": JWT_GRANT, "assertion": self.assertion()},
            )
        except VendorError as exc:
            raise self._explain(exc) from None
        body = response.json()
        value = body.get("access_token") if isinstance(body, dict) else None
        if not value:
            raise AuthenticationError(
                "the token endpoint answered without an access_token", connector="docusign", status=200
            )
        seconds = int(body.get("expires_in") or 3600)
        return _Token(value, self.clock.now() + timedelta(seconds=seconds))

    def _explain(self, exc: VendorError) -> Exception:
        """DocuSign's OAuth errors, each as one line saying what to fix."""
        error = (exc.vendor_message or "").split(":", 1)[0].strip()
        key = self.settings.integration_key
        if error == "consent_required":
            url = (
                f"{self.settings.auth_url}/oauth/auth?response_type=code&scope={quote(SCOPES)}"
                f"&client_id={quote(key)}&redirect_uri=<a redirect URI of the app>"
            )
            return ConfigError(
                f"docusign: user HUB_DOCUSIGN__USER_ID={self.settings.user_id} has not granted consent "
                f"to integration key {key}; open {url} once as that user (or grant admin consent)"
            )
        hints = {
            "invalid_grant": "check HUB_DOCUSIGN__INTEGRATION_KEY, __USER_ID, __PRIVATE_KEY_FILE "
            "and __AUTH_SERVER (developer accounts use account-d.docusign.com)",
            "invalid_client": "check HUB_DOCUSIGN__INTEGRATION_KEY",
            "unsupported_grant_type": "the auth server does not accept the JWT grant",
        }
        hint = hints.get(error, "check HUB_DOCUSIGN__INTEGRATION_KEY, __USER_ID and __PRIVATE_KEY_FILE")
        return AuthenticationError(
            f"JWT grant refused; {hint}",
            connector="docusign",
            method=exc.method,
            url=exc.url,
            status=exc.status,
            vendor_message=exc.vendor_message,
        )


def discover_base_uri(
    settings: DocuSignSettings, grant: JwtGrant, client: HttpClient, state: KeyValueStore
) -> str:
    """The account's API host: the setting, else the cached or freshly fetched userinfo."""
    if settings.base_uri:
        return settings.base_uri
    key = f"base_uri:{settings.user_id}:{settings.account_id}"
    cached = state.get(key)
    if isinstance(cached, str) and cached:
        return cached
    response = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {grant.token()}"})
    info = response.json()
    accounts: list[dict[str, Any]] = info.get("accounts") or [] if isinstance(info, dict) else []
    match = next((a for a in accounts if str(a.get("account_id")) == settings.account_id), None)
    if match is None or not match.get("base_uri"):
        known = ", ".join(str(a.get("account_id")) for a in accounts) or "none"
        raise ConfigError(
            f"HUB_DOCUSIGN__ACCOUNT_ID: user {settings.user_id} has no account "
            f"{settings.account_id} (accounts: {known})"
        )
    base_uri = str(match["base_uri"]).rstrip("/")
    state.set(key, base_uri)
    return base_uri


class BearerAuth(httpx.Auth):
    """Adds the access token to every API request and shows every answer to ``observe``.

    This is the one hook every response passes through before the HTTP layer
    classifies it, which is where the rate-limit headers must be read (a 429 never
    reaches the caller as a response). A 401 means the token was revoked or expired
    early: the cached token is dropped so the next request fetches a fresh one, and
    the 401 itself surfaces as an AuthenticationError naming the settings.
    """

    def __init__(
        self,
        grant: JwtGrant,
        before: Callable[[], None],
        observe: Callable[[httpx.Response], None],
    ) -> None:
        self.grant = grant
        self.before = before
        self.observe = observe

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.before()
        request.headers["Authorization"] = f"Bearer {self.grant.token()}"
        response = yield request
        self.observe(response)
        if response.status_code == 401:
            self.grant.invalidate()
