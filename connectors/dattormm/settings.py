"""Settings of the Datto RMM connector (``HUB_DATTORMM__*``).

Field names give the environment names: ``api_url`` is ``HUB_DATTORMM__API_URL`` (the
platform's API URL, e.g. ``https://pinotage-api.centrastage.net``; Datto RMM runs one
per region: pinotage, merlot, concord, vidal, zinfandel, syrah), ``api_key`` and
``api_secret`` are ``HUB_DATTORMM__API_KEY`` / ``__API_SECRET``, the API user's keys
(Datto RMM: Setup > Users > the user > Generate API Keys). Both are secrets: the pair is
exchanged for an access token, and the key alone identifies the user.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from hub.sdk import ConnectorSettings

__all__ = ["MAX_PAGE_SIZE", "DattormmSettings"]

#: the platforms' default and largest page (``GET /v2/system/pagination``: "Default and
#: maximum number of elements per page"); 250 on the platforms documented publicly
MAX_PAGE_SIZE = 250


class DattormmSettings(ConnectorSettings):
    """Where the platform is, the API user's keys, and what to read."""

    api_url: str = Field(
        description="the platform's API URL, e.g. https://pinotage-api.centrastage.net (pinotage, merlot, "
        "concord, vidal, zinfandel or syrah)"
    )
    api_key: SecretStr = Field(description="the API user's API key (Setup > Users > Generate API Keys)")
    api_secret: SecretStr = Field(description="the API user's API secret key, shown once when the keys are generated")
    page_size: int = Field(
        default=MAX_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"records per page (the max parameter; Datto RMM allows up to {MAX_PAGE_SIZE})",
    )
    device_audits: bool = Field(
        default=True,
        description="read each device's audit for its serial number and model (one call per device audited again)",
    )
    include_muted: bool = Field(
        default=False,
        description="also read open alerts someone muted in Datto RMM (muted alerts open no tickets by default)",
    )

    @field_validator("api_url")
    @classmethod
    def _platform_url(cls, value: str) -> str:
        """The platform's root: ``/api`` (where the endpoints live) and ``/auth`` hang off it."""
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be the platform's API URL, e.g. https://pinotage-api.centrastage.net")
        return value.removesuffix("/api")
