"""Settings names, registration, capabilities, the import rule and the shipped spec."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from connectors.dattormm import DattormmConnector
from connectors.dattormm.connector import READ_LIMITS, WRITE_LIMITS
from connectors.dattormm.plugin import hub_register_connectors
from connectors.dattormm.settings import DattormmSettings
from connectors.dattormm.spec import SPEC_FILE
from hub.plugins import ConnectorRegistry, HubPlugins
from hub.sdk import ConfigError
from hub.settings import load_connector_settings
from tests.conftest import vendor_specs

PACKAGE = Path(__file__).parents[3] / "connectors" / "dattormm"
REQUIRED = {
    "HUB_DATTORMM__API_URL": "https://pinotage-api.centrastage.net",
    "HUB_DATTORMM__API_KEY": "KEY123",
    "HUB_DATTORMM__API_SECRET": "SECRET456",
}


def test_settings_come_from_the_documented_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUB_DATTORMM__INCLUDE_MUTED", "true")
    settings = load_connector_settings(DattormmSettings, "dattormm")
    assert settings.api_url == "https://pinotage-api.centrastage.net"
    assert settings.api_key.get_secret_value() == "KEY123"
    assert settings.api_secret.get_secret_value() == "SECRET456"
    assert (settings.page_size, settings.device_audits, settings.include_muted) == (250, True, True)
    assert "SECRET456" not in repr(settings) and "KEY123" not in repr(settings)


@pytest.mark.parametrize(
    "written",
    [
        "https://pinotage-api.centrastage.net/",
        "https://pinotage-api.centrastage.net/api",
        " https://pinotage-api.centrastage.net/api/ ",
    ],
)
def test_the_platform_url_may_be_pasted_with_api_or_a_slash(monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    for name, value in {**REQUIRED, "HUB_DATTORMM__API_URL": written}.items():
        monkeypatch.setenv(name, value)
    assert load_connector_settings(DattormmSettings, "dattormm").api_url == "https://pinotage-api.centrastage.net"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_DATTORMM__API_SECRET": None}, "HUB_DATTORMM__API_SECRET: required but not set"),
        ({"HUB_DATTORMM__API_KEY": None}, "HUB_DATTORMM__API_KEY: required but not set"),
        ({"HUB_DATTORMM__API_URL": None}, "HUB_DATTORMM__API_URL: required but not set"),
        ({"HUB_DATTORMM__API_URL": "pinotage-api.centrastage.net"}, "HUB_DATTORMM__API_URL: must be the platform's"),
        ({"HUB_DATTORMM__PAGE_SIZE": "500"}, "HUB_DATTORMM__PAGE_SIZE"),
        ({"HUB_DATTORMM__DEVICE_AUDITS": "perhaps"}, "HUB_DATTORMM__DEVICE_AUDITS"),
    ],
)
def test_bad_settings_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None], message: str
) -> None:
    for name, value in {**REQUIRED, **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as err:
        load_connector_settings(DattormmSettings, "dattormm")
    assert "\n" not in str(err.value)
    assert "SECRET456" not in str(err.value)


def test_plugin_registers_the_connector_through_the_entry_point_group() -> None:
    registry = ConnectorRegistry()
    hub_register_connectors(registry)
    assert registry.classes == {"dattormm": DattormmConnector}
    plugins = HubPlugins()
    assert plugins.connector_class("dattormm") is DattormmConnector
    assert plugins.infos["dattormm"].error is None


def test_capabilities_name_the_streams_the_rmm_jobs_read() -> None:
    caps = DattormmConnector.capabilities()
    assert caps["streams"] == [
        {"name": "customers", "kind": "organization", "cursor": None},
        {"name": "devices", "kind": "configuration_item", "cursor": "lastSeen"},
        {"name": "active_issues", "kind": "alert", "cursor": None},
    ]
    assert caps["writes"] == {} and caps["webhooks"] is False
    assert caps["actions"] == ["resolve_alert"]
    # the documented 600 reads and 100 writes a minute, each at 90 % with a per-second share
    # small enough that no 60-second window holds more than 90 % (the platform's window slides)
    for limits, published in ((READ_LIMITS, 600), (WRITE_LIMITS, 100)):
        minute, second = limits
        assert (minute.requests, minute.per_seconds) == (published * 0.9, 60)
        per_minute = 60 * second.requests / second.per_seconds
        assert per_minute <= published * 0.9 and second.requests + per_minute < published
    assert DattormmConnector.rate_limits == READ_LIMITS


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
    published = vendor_specs() / "rmm" / "datto-rmm" / "datto-rmm-api-v2.openapi.json"
    digest = hashlib.sha256(SPEC_FILE.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(published.read_bytes()).hexdigest()
    assert digest == "09cebb1ee4024c239ebee4779ac12931e115cbcbf676f73d387fda2aad87e49c"
