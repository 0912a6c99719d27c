"""Settings of the NinjaOne connector (``HUB_NINJAONE__*``).

Field names give the environment names: ``api_url`` is ``HUB_NINJAONE__API_URL``, the
instance the MSP signs in to (NinjaOne runs one per region: ``https://app.ninjarmm.com``
in the US, ``us2.ninjarmm.com``, ``eu.ninjarmm.com``, ``ca.ninjarmm.com``,
``oc.ninjarmm.com``); the API's ``/v2`` paths and the OAuth token endpoint
``/ws/oauth/token`` hang off it. ``client_id`` and ``client_secret`` are
``HUB_NINJAONE__CLIENT_ID`` / ``__CLIENT_SECRET``, a client app of the "API Services
(machine-to-machine)" platform with the Client Credentials grant (NinjaOne:
Administration > Apps > API > Client App IDs). The secret is shown once, when the app is
saved.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from hub.sdk import ConnectorSettings

__all__ = ["DEFAULT_SCOPES", "MAX_PAGE_SIZE", "SCOPES", "NinjaoneSettings"]

#: the spec bounds ``pageSize`` only where it states a bound (``GET /v2/activities``: 10 to
#: 1000); the lists the connector pages (organizations, devices) state none, so the same
#: largest page is used for them
MAX_PAGE_SIZE = 1000
#: the scopes a client app can be granted ("Monitoring", "Management", "Control": the
#: vendor's API documentation, and the spec's ``security`` block)
SCOPES = ("monitoring", "management", "control")
#: reads need ``monitoring``; resetting an alert (``DELETE /v2/alert/{uid}``) needs ``management``
DEFAULT_SCOPES = "monitoring management"


class NinjaoneSettings(ConnectorSettings):
    """Where the instance is, the client app's credentials, and what to read."""

    api_url: str = Field(
        description="the NinjaOne instance, e.g. https://app.ninjarmm.com (US), https://eu.ninjarmm.com, "
        "https://ca.ninjarmm.com, https://oc.ninjarmm.com or https://us2.ninjarmm.com"
    )
    client_id: str = Field(description="the client app's Client ID (Administration > Apps > API > Client App IDs)")
    client_secret: SecretStr = Field(description="the client app's Client Secret, shown once when the app is saved")
    scopes: str = Field(
        default=DEFAULT_SCOPES,
        description="OAuth scopes to ask for, space-separated (monitoring to read; management to reset alerts)",
    )
    page_size: int = Field(
        default=MAX_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"records per page of organizations and devices (the pageSize parameter; at most {MAX_PAGE_SIZE})",
    )

    @field_validator("api_url")
    @classmethod
    def _instance_url(cls, value: str) -> str:
        """The instance's root: ``/v2`` (where the endpoints live) and ``/ws`` (OAuth) hang off it."""
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be the NinjaOne instance's URL, e.g. https://app.ninjarmm.com")
        return value.removesuffix("/v2").removesuffix("/api")

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must be the client app's Client ID")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: str) -> str:
        asked = value.replace(",", " ").split()
        unknown = [s for s in asked if s not in SCOPES]
        if unknown or not asked:
            raise ValueError(f"scopes are {', '.join(SCOPES)} (space-separated), got {value!r}")
        return " ".join(dict.fromkeys(asked))
