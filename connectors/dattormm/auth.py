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

import httpx
from pydantic import SecretStr

from hub.sdk import Clock, TokenGrantAuth, message_from

__all__ = ["AUTH_HINT", "PUBLIC_CLIENT", "REFRESH_MARGIN", "TOKEN_PATH", "DattormmAuth"]

TOKEN_PATH = "/auth/oauth/token"  # noqa: S105 - a path, not a password
#: the platform's public OAuth client, documented with the token request
PUBLIC_CLIENT = ("public-client", "public")
#: request a new token this long before the current one ends (never more than half its life)
REFRESH_MARGIN = 300.0
#: what the connector tells the user to check when the platform refuses the keys
AUTH_HINT = "HUB_DATTORMM__API_KEY, HUB_DATTORMM__API_SECRET and HUB_DATTORMM__API_URL (the platform)"


def _basic(client: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{client[0]}:{client[1]}".encode()).decode()


#: the OAuth 2.0 error of a refused token request (``error_description`` or ``error``)
_oauth_message = message_from("{error_description}", "{message}", "{error}")


class DattormmAuth(TokenGrantAuth):
    """Request, cache and (after a 401) re-request Datto RMM access tokens."""

    refresh_margin = REFRESH_MARGIN

    def __init__(self, connector: str, api_url: str, key: SecretStr, secret: SecretStr, clock: Clock) -> None:
        super().__init__(
            connector,
            api_url.rstrip("/") + TOKEN_PATH,
            clock,
            refused="the platform refused the API keys",
            hint=AUTH_HINT,
            secrets=(key, secret),
            message=_oauth_message,
        )
        self._key = key
        self._secret = secret

    def token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.token_url,
            data={
                "grant_type": "password",
                "username": self._key.get_secret_value(),
                "password": self._secret.get_secret_value(),
            },
            headers={"Authorization": _basic(PUBLIC_CLIENT), "Accept": "application/json"},
        )
