"""Settings names, defaults, validation and secrecy; the connector's declarations."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from connectors.itglue import ITGlueConnector, ITGlueSettings
from hub.sdk import ConfigError
from hub.settings import load_connector_settings

from .conftest import make_connector


def test_env_names_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_ITGLUE__API_KEY", "ITG.secret-value")
    monkeypatch.setenv("HUB_ITGLUE__BASE_URL", "https://api.eu.itglue.com/")
    monkeypatch.setenv("HUB_ITGLUE__RATE_LIMIT_REQUESTS", "1500")
    s = load_connector_settings(ITGlueSettings, "itglue")
    assert s.base_url == "https://api.eu.itglue.com"
    assert s.site_summary_type == "Site Summary"
    assert (s.rate_limit_requests, s.rate_limit_seconds, s.page_size) == (1500, 300.0, 1000)
    assert "secret-value" not in repr(s) and "secret-value" not in str(s.model_dump())


def test_default_host_is_the_us_data_center(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_ITGLUE__API_KEY", "k")
    monkeypatch.delenv("HUB_ITGLUE__BASE_URL", raising=False)
    assert load_connector_settings(ITGlueSettings, "itglue").base_url == "https://api.itglue.com"


def test_missing_key_and_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_ITGLUE__API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"^HUB_ITGLUE__API_KEY: required but not set"):
        load_connector_settings(ITGlueSettings, "itglue")
    monkeypatch.setenv("HUB_ITGLUE__API_KEY", "k")
    monkeypatch.setenv("HUB_ITGLUE__PAGE_SIZE", "5000")
    with pytest.raises(ConfigError, match=r"^HUB_ITGLUE__PAGE_SIZE"):
        load_connector_settings(ITGlueSettings, "itglue")
    monkeypatch.delenv("HUB_ITGLUE__PAGE_SIZE")
    monkeypatch.setenv("HUB_ITGLUE__BASE_URL", "api.itglue.com")
    with pytest.raises(ConfigError, match=r"^HUB_ITGLUE__BASE_URL: must be an http"):
        load_connector_settings(ITGlueSettings, "itglue")


def test_client_sends_the_key_and_jsonapi_accept_without_logging_it() -> None:
    client = make_connector().client()
    assert client._client.headers["x-api-key"] == "ITG.test-key"
    assert client.redactor.text("key ITG.test-key") != "key ITG.test-key"


def test_declarations() -> None:
    caps = ITGlueConnector.capabilities()
    assert [s["name"] for s in caps["streams"]] == ["organizations", "contacts", "site_summaries"]
    assert caps["writes"] == {
        "organizations": "organization",
        "contacts": "contact",
        "site_summaries": "site_summary",
    }
    assert caps["webhooks"] is False
    assert (
        ITGlueConnector.rate_limits[0].requests == 3000 and ITGlueConnector.rate_limits[0].per_seconds == 300
    )


def test_connector_imports_only_hub_sdk() -> None:
    package = Path(__file__).resolve().parents[3] / "connectors" / "itglue"
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
            )
            for name in names:
                assert not name.startswith("hub") or name == "hub.sdk", f"{path.name} imports {name}"
