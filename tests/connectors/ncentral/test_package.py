"""Settings names, registration, capabilities and the import rule of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from connectors.ncentral import NcentralConnector
from connectors.ncentral.plugin import hub_register_connectors
from connectors.ncentral.settings import NcentralSettings
from hub.plugins import ConnectorRegistry
from hub.sdk import ConfigError
from hub.settings import load_connector_settings

PACKAGE = Path(__file__).parents[3] / "connectors" / "ncentral"


def test_settings_come_from_the_documented_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_NCENTRAL__BASE_URL", "https://ncentral.example.com/")
    monkeypatch.setenv("HUB_NCENTRAL__JWT", "eyJ.secret.jwt")
    monkeypatch.setenv("HUB_NCENTRAL__ALERT_ORG_UNITS", "101,102")
    settings = load_connector_settings(NcentralSettings, "ncentral")
    assert settings.base_url == "https://ncentral.example.com"
    assert settings.jwt.get_secret_value() == "eyJ.secret.jwt"
    assert settings.alert_org_units == ["101", "102"]
    assert "eyJ.secret.jwt" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_NCENTRAL__BASE_URL": "https://nc.example.com"}, "HUB_NCENTRAL__JWT: required but not set"),
        (
            {"HUB_NCENTRAL__JWT": "x", "HUB_NCENTRAL__BASE_URL": "nc.example.com"},
            "HUB_NCENTRAL__BASE_URL: must be",
        ),
        (
            {
                "HUB_NCENTRAL__JWT": "x",
                "HUB_NCENTRAL__BASE_URL": "https://nc",
                "HUB_NCENTRAL__PAGE_SIZE": "5000",
            },
            "HUB_NCENTRAL__PAGE_SIZE",
        ),
        (
            {
                "HUB_NCENTRAL__JWT": "x",
                "HUB_NCENTRAL__BASE_URL": "https://nc",
                "HUB_NCENTRAL__ALERT_ORG_UNITS": "a",
            },
            "org unit ids are numbers",
        ),
    ],
)
def test_bad_settings_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name in ("HUB_NCENTRAL__BASE_URL", "HUB_NCENTRAL__JWT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as err:
        load_connector_settings(NcentralSettings, "ncentral")
    assert "\n" not in str(err.value)


def test_plugin_registers_the_connector() -> None:
    registry = ConnectorRegistry()
    hub_register_connectors(registry)
    assert registry.classes == {"ncentral": NcentralConnector}


def test_capabilities_are_known_without_settings() -> None:
    caps = NcentralConnector.capabilities()
    assert caps["streams"] == [
        {"name": "org_units", "kind": "organization", "cursor": None},
        {"name": "customers", "kind": "organization", "cursor": None},
        {"name": "devices", "kind": "configuration_item", "cursor": "lastApplianceCheckinTime"},
        {"name": "active_issues", "kind": "alert", "cursor": None},
    ]
    assert caps["writes"] == {} and caps["webhooks"] is False
    [limit] = NcentralConnector.rate_limits
    assert limit.concurrent == 3


def test_connector_imports_only_hub_sdk_from_the_hub() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name == "hub.sdk" or not name.startswith("hub"), f"{path.name} imports {name}"
