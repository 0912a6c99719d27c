"""Settings of the DocuSign connector (``HUB_DOCUSIGN__*``).

Every host is a setting so the hub can be pointed at the simulator: the auth server
(``account.docusign.com`` in production, ``account-d.docusign.com`` for developer
accounts) accepts a bare host or a full URL, and the account's API host (``BASE_URI``)
is discovered through ``/oauth/userinfo`` unless it is set.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from hub.sdk import CommaList, ConnectorSettings, split_commas

__all__ = ["DocuSignSettings", "auth_server_url"]


def auth_server_url(value: str) -> str:
    """``account.docusign.com`` -> ``https://account.docusign.com``; a URL stays as given."""
    text = value.strip().rstrip("/")
    return text if "://" in text else f"https://{text}"


class DocuSignSettings(ConnectorSettings):
    """One DocuSign account used through an integration key that impersonates one user."""

    connector_name = "docusign"

    auth_server: str = Field(
        default="account.docusign.com",
        description="OAuth server: a host (account.docusign.com, account-d.docusign.com) or a URL",
    )
    base_uri: str | None = Field(
        default=None,
        description="the account's API host, e.g. https://na3.docusign.net; discovered when unset",
    )
    account_id: str = Field(description="the API account ID (GUID) to send from")
    integration_key: str = Field(description="the app's integration key (OAuth client id)")
    user_id: str = Field(description="GUID of the user the app impersonates")
    private_key_file: Path = Field(description="PEM file of the integration key's RSA private key")
    connect_hmac_keys: CommaList = Field(
        default_factory=list, description="Connect HMAC keys, comma-separated (any one may sign)"
    )
    tc_template_id: str | None = Field(default=None, description="template of the terms and conditions")

    _split = field_validator("connect_hmac_keys", mode="before")(split_commas)

    @field_validator("connect_hmac_keys", mode="after")
    @classmethod
    def _as_secrets(cls, keys: list[str]) -> list[SecretStr]:
        # CommaList is list[str] for parsing; the keys are secrets from here on.
        return [k if isinstance(k, SecretStr) else SecretStr(k) for k in keys]

    @field_validator("auth_server")
    @classmethod
    def _auth_host(cls, value: str) -> str:
        parts = urlsplit(auth_server_url(value))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not a host or URL: {value!r}")
        return value.strip()

    @field_validator("base_uri")
    @classmethod
    def _base_uri(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        text = value.strip().rstrip("/")
        if text.endswith("/restapi"):  # the console shows it with the path; the API adds it
            text = text[: -len("/restapi")]
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not a URL: {value!r}")
        return text

    @property
    def auth_url(self) -> str:
        return auth_server_url(self.auth_server)

    @property
    def auth_audience(self) -> str:
        """The JWT ``aud``: the auth server's host name (with port for a local simulator)."""
        return urlsplit(self.auth_url).netloc

    @property
    def hmac_keys(self) -> list[SecretStr]:
        return list(self.connect_hmac_keys)  # type: ignore[arg-type]
