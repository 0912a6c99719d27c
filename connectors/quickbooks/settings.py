"""Settings of the QuickBooks connector (``HUB_QUICKBOOKS__*``).

Both Intuit hosts (the accounting API and the OAuth token endpoint) are settings so the
hub can be pointed at the simulator. The refresh token here only *seeds* the rotation
chain: QuickBooks hands out a new refresh token on every refresh, and the connector keeps
the current one in the state store (see :mod:`connectors.quickbooks.oauth`).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from hub.sdk import ConnectorSettings

PRODUCTION_API = "https://quickbooks.api.intuit.com"
PRODUCTION_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL


class QuickBooksSettings(ConnectorSettings):
    """One QuickBooks Online company (realm) reached through one Intuit app."""

    connector_name = "quickbooks"

    base_url: str = Field(default=PRODUCTION_API, description="accounting API host")
    token_url: str = Field(default=PRODUCTION_TOKEN_URL, description="OAuth 2.0 token endpoint")
    realm_id: str = Field(description="the company id (realmId) of the QuickBooks company")
    client_id: str = Field(min_length=1, description="the Intuit app's client id")
    client_secret: SecretStr = Field(description="the Intuit app's client secret")
    refresh_token: SecretStr = Field(description="initial OAuth refresh token (rotated tokens live in state)")
    webhook_verifier_token: SecretStr | None = Field(
        default=None, description="verifier token of the app's webhooks (intuit-signature key)"
    )
    minor_version: int = Field(default=75, ge=1, description="minorversion sent on every API call")

    @field_validator("realm_id")
    @classmethod
    def _digits(cls, value: str) -> str:
        value = value.strip()
        if not value.isdigit():
            raise ValueError("must be the QuickBooks company id (digits only)")
        return value

    @field_validator("base_url", "token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")
