"""Settings of the N-central connector (``HUB_NCENTRAL__*``).

Field names give the environment names: ``base_url`` is ``HUB_NCENTRAL__BASE_URL`` (the
N-central server, e.g. ``https://ncentral.example.com``) and ``jwt`` is
``HUB_NCENTRAL__JWT`` (the API-only user's "User-API Token", the permanent secret that
is only ever exchanged for access and refresh tokens).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from hub.sdk import CommaList, ConnectorSettings, split_commas

__all__ = ["NcentralSettings"]


class NcentralSettings(ConnectorSettings):
    """Where the N-central server is, the API user's token, and how much to read per call."""

    base_url: str = Field(description="the N-central server, e.g. https://ncentral.example.com")
    jwt: SecretStr = Field(description="the API-only user's User-API Token (JWT)")
    page_size: int = Field(
        default=500, ge=1, le=1000, description="items per page (N-central allows 1 to 1000, default 50)"
    )
    device_assets: bool = Field(
        default=True,
        description="read each device's asset record (one call per device) for its serial number",
    )
    alert_org_units: CommaList = Field(
        default_factory=list,
        description="customer or site ids whose active issues are read; empty: every customer",
    )

    _split = field_validator("alert_org_units", mode="before")(split_commas)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be the server's URL, starting with https://")
        return value.rstrip("/")

    @field_validator("alert_org_units")
    @classmethod
    def _numeric_ids(cls, ids: list[str]) -> list[str]:
        for org_unit in ids:
            if not org_unit.isdigit():
                raise ValueError(f"org unit ids are numbers, got {org_unit!r}")
        return ids
