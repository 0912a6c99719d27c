"""Settings names, registration, capabilities, the import rule and the shipped spec."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from connectors.ninjaone import NinjaoneConnector
from connectors.ninjaone.connector import LIMITS
from connectors.ninjaone.plugin import hub_register_connectors
from connectors.ninjaone.settings import NinjaoneSettings
from connectors.ninjaone.spec import SPEC_FILE
from hub.plugins import ConnectorRegistry, HubPlugins
from hub.sdk import ConfigError
from hub.settings import load_connector_settings
from tests.conftest import vendor_specs

PACKAGE = Path(__file__).parents[3] / "connectors" / "ninjaone"
REQUIRED = {
    "HUB_NINJAONE__API_URL": "https://eu.ninjarmm.com",
    "HUB_NINJAONE__CLIENT_ID": "CLIENT123",
    "HUB_NINJAONE__CLIENT_SECRET": "SECRET456",
}


def _env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]) -> None:
    for name, value in {**REQUIRED, **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_settings_come_from_the_documented_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, {"HUB_NINJAONE__SCOPES": "monitoring"})
    settings = load_connector_settings(NinjaoneSettings, "ninjaone")
    assert (settings.api_url, settings.client_id) == ("https://eu.ninjarmm.com", "CLIENT123")
    assert settings.client_secret.get_secret_value() == "SECRET456"
    assert (settings.scopes, settings.page_size) == ("monitoring", 1000)
    assert "SECRET456" not in repr(settings)


@pytest.mark.parametrize(
    "written", ["https://eu.ninjarmm.com/", " https://eu.ninjarmm.com/v2 ", "https://eu.ninjarmm.com/api/"]
)
def test_the_instance_url_may_be_pasted_with_a_path_or_a_slash(monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    _env(monkeypatch, {"HUB_NINJAONE__API_URL": written})
    assert load_connector_settings(NinjaoneSettings, "ninjaone").api_url == "https://eu.ninjarmm.com"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_NINJAONE__CLIENT_SECRET": None}, "HUB_NINJAONE__CLIENT_SECRET: required but not set"),
        ({"HUB_NINJAONE__CLIENT_ID": None}, "HUB_NINJAONE__CLIENT_ID: required but not set"),
        ({"HUB_NINJAONE__CLIENT_ID": "  "}, "HUB_NINJAONE__CLIENT_ID: .*Client ID"),
        ({"HUB_NINJAONE__API_URL": None}, "HUB_NINJAONE__API_URL: required but not set"),
        ({"HUB_NINJAONE__API_URL": "eu.ninjarmm.com"}, "HUB_NINJAONE__API_URL: .*instance's URL"),
        ({"HUB_NINJAONE__SCOPES": "monitoring admin"}, "HUB_NINJAONE__SCOPES: .*monitoring, management, control"),
        ({"HUB_NINJAONE__PAGE_SIZE": "5000"}, "HUB_NINJAONE__PAGE_SIZE"),
    ],
)
def test_bad_settings_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None], message: str
) -> None:
    _env(monkeypatch, env)
    with pytest.raises(ConfigError, match=message) as err:
        load_connector_settings(NinjaoneSettings, "ninjaone")
    assert "\n" not in str(err.value) and "SECRET456" not in str(err.value)


def test_plugin_registers_the_connector_through_the_entry_point_group() -> None:
    registry = ConnectorRegistry()
    hub_register_connectors(registry)
    assert registry.classes == {"ninjaone": NinjaoneConnector}
    plugins = HubPlugins()
    assert plugins.connector_class("ninjaone") is NinjaoneConnector
    assert plugins.infos["ninjaone"].error is None


def test_capabilities_name_the_streams_the_rmm_jobs_read_and_the_one_action() -> None:
    caps = NinjaoneConnector.capabilities()
    assert caps["streams"] == [
        {"name": "customers", "kind": "organization", "cursor": None},
        {"name": "devices", "kind": "configuration_item", "cursor": "lastContact"},
        {"name": "active_issues", "kind": "alert", "cursor": None},
    ]
    assert caps["writes"] == {} and caps["webhooks"] is False
    assert caps["actions"] == ["reset_alert"]
    assert NinjaoneConnector.roles == {"rmm": {}}
    # no published figure: a budget of its own, whose per-second share fits inside the minute's
    minute, second = LIMITS
    assert (minute.requests, minute.per_seconds) == (300, 60)
    assert 60 * second.requests / second.per_seconds <= minute.requests


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


def test_the_simulator_checks_requests_against_the_vendors_spec_unchanged() -> None:
    published = vendor_specs() / "rmm" / "ninjaone" / "ninjaone-public-api-2.0.openapi.yaml"
    digest = hashlib.sha256(SPEC_FILE.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(published.read_bytes()).hexdigest()
    assert digest == "733cbc4300062da7c513cf1404cf35cf85042b01619c4d9c67d5039fc18bb514"
