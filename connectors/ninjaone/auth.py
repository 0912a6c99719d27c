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

from typing import Any

import httpx
from pydantic import SecretStr

from hub.sdk import Clock, TokenGrantAuth, message_from

__all__ = ["AUTH_HINT", "REFRESH_MARGIN", "TOKEN_PATH", "NinjaoneAuth"]

TOKEN_PATH = "/ws/oauth/token"  # noqa: S105 - a path, not a password
#: ask for a new token this long before the current one ends (never more than half its life)
REFRESH_MARGIN = 120.0
#: what the connector tells the user to check when the instance refuses the client app
AUTH_HINT = "HUB_NINJAONE__CLIENT_ID, HUB_NINJAONE__CLIENT_SECRET and HUB_NINJAONE__API_URL (the instance)"

#: an OAuth 2.0 error (RFC 6749 §5.2), or NinjaOne's own error body
_oauth_message = message_from("{error_description}", "{errorMessage}", "{message}", "{error}")


class NinjaoneAuth(TokenGrantAuth):
    """Ask for, cache and (after a 401) ask again for NinjaOne access tokens."""

    refresh_margin = REFRESH_MARGIN

    def __init__(
        self, connector: str, api_url: str, client_id: str, secret: SecretStr, scopes: str, clock: Clock
    ) -> None:
        super().__init__(
            connector,
            api_url.rstrip("/") + TOKEN_PATH,
            clock,
            refused="the instance refused the client app",
            hint=AUTH_HINT,
            secrets=(secret,),
            message=_oauth_message,
        )
        self._client_id = client_id
        self._secret = secret
        self._scopes = scopes

    def token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._secret.get_secret_value(),
                "scope": self._scopes,
            },
            headers={"Accept": "application/json"},
        )

    def granted_scopes(self, body: dict[str, Any]) -> str:
        """The scopes granted (RFC 6749 §5.1: left out when they are the ones asked for)."""
        return str(body.get("scope") or self._scopes)
