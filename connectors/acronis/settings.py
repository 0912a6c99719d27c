"""Settings of the Acronis connector (``HUB_ACRONIS__*``).

Field names give the environment names: ``datacenter_url`` is
``HUB_ACRONIS__DATACENTER_URL`` (the data center the partner's account lives in, e.g.
``https://us-cloud.acronis.com``; both the Account Management API ``/api/2`` and the
Advanced Automation API ``/api/advanced-automation/v1`` hang below it), ``client_id`` and
``client_secret`` are the API client created in the management portal.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from hub.sdk import ConnectorSettings

__all__ = ["AcronisSettings"]


class AcronisSettings(ConnectorSettings):
    """Where the partner's data center is, its API client, and how services meet products."""

    datacenter_url: str = Field(
        description="the data center URL shown with the API client, e.g. https://us-cloud.acronis.com"
    )
    client_id: str = Field(min_length=1, description="the API client's ID (Settings > API clients)")
    client_secret: SecretStr = Field(description="the API client's secret, shown once when it was created")
    page_size: int = Field(
        default=100, ge=1, le=1000, description="records per page of tenant, customer, product and invoice reads"
    )
    products: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Acronis service (offering item name) -> Advanced Automation product name, for services "
        "whose product is not named like the service: `service=Product name` pairs separated by semicolons",
    )

    @field_validator("datacenter_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be the data center's URL, starting with https://")
        value = value.rstrip("/")
        for suffix in ("/api/2", "/api/advanced-automation/v1"):
            if value.endswith(suffix):
                raise ValueError(f"give the data center URL without {suffix}")
        return value

    @field_validator("products", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        """``service=Product name;service=Product name`` from the environment, or a mapping.

        Product names may hold commas, so pairs are separated by semicolons.
        """
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in value.split(";"):
            if not part.strip():
                continue
            service, sep, product = part.partition("=")
            if not sep or not service.strip() or not product.strip():
                raise ValueError(f"{part.strip()!r} is not service=Product name")
            pairs[service.strip()] = product.strip()
        return pairs
