"""Settings names, registration, capabilities, the shipped specs and the import rule of the package."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from connectors.acronis import AcronisConnector
from connectors.acronis.plugin import hub_register_connectors
from connectors.acronis.settings import AcronisSettings
from hub.plugins import ConnectorRegistry
from hub.sdk import ConfigError
from hub.settings import load_connector_settings, load_settings
from tests.conftest import vendor_specs

PACKAGE = Path(__file__).parents[3] / "connectors" / "acronis"


def test_settings_come_from_the_documented_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_ACRONIS__DATACENTER_URL", "https://us-cloud.acronis.com/")
    monkeypatch.setenv("HUB_ACRONIS__CLIENT_ID", "8a3f0f2e-7f0b-4a43-9f55-1d4b7b9f3c11")
    monkeypatch.setenv("HUB_ACRONIS__CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("HUB_ACRONIS__PRODUCTS", "adv_workstations=Backup, Advanced; storage = Cloud GB")
    settings = load_connector_settings(AcronisSettings, "acronis")
    assert settings.datacenter_url == "https://us-cloud.acronis.com"
    assert settings.client_secret.get_secret_value() == "s3cr3t-value"
    assert settings.products == {"adv_workstations": "Backup, Advanced", "storage": "Cloud GB"}
    assert "s3cr3t-value" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_ACRONIS__CLIENT_ID": "x", "HUB_ACRONIS__CLIENT_SECRET": "y"}, "HUB_ACRONIS__DATACENTER_URL: required"),
        ({"HUB_ACRONIS__DATACENTER_URL": "https://eu2-cloud.acronis.com", "HUB_ACRONIS__CLIENT_ID": "x"},
         "HUB_ACRONIS__CLIENT_SECRET: required"),
        ({"HUB_ACRONIS__DATACENTER_URL": "eu2-cloud.acronis.com", "HUB_ACRONIS__CLIENT_ID": "x",
          "HUB_ACRONIS__CLIENT_SECRET": "y"}, "HUB_ACRONIS__DATACENTER_URL: must be the data center's URL"),
        ({"HUB_ACRONIS__DATACENTER_URL": "https://eu2-cloud.acronis.com/api/2", "HUB_ACRONIS__CLIENT_ID": "x",
          "HUB_ACRONIS__CLIENT_SECRET": "y"}, "without /api/2"),
        ({"HUB_ACRONIS__DATACENTER_URL": "https://eu2-cloud.acronis.com", "HUB_ACRONIS__CLIENT_ID": "x",
          "HUB_ACRONIS__CLIENT_SECRET": "y", "HUB_ACRONIS__PRODUCTS": "storage"}, "HUB_ACRONIS__PRODUCTS"),
    ],
)  # fmt: skip
def test_bad_settings_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as err:
        load_connector_settings(AcronisSettings, "acronis")
    assert "\n" not in str(err.value)


def test_the_billing_role_names_the_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().roles.billing == "acronis"
    monkeypatch.setenv("HUB_ROLES__BILLING", "otherbilling")
    assert load_settings().roles.billing == "otherbilling"


def test_plugin_registers_the_connector() -> None:
    registry = ConnectorRegistry()
    hub_register_connectors(registry)
    assert registry.classes == {"acronis": AcronisConnector}


def test_capabilities_are_known_without_settings() -> None:
    caps = AcronisConnector.capabilities()
    assert caps["streams"] == [{"name": "tenants", "kind": "organization", "cursor": "updated_at"}]
    assert caps["writes"] == {"tenants": "organization"} and caps["webhooks"] is False
    assert caps["actions"] == [
        "billing_gaps", "client_status", "ensure_contract", "invoice_numbering", "list_clients",
        "set_billing_info",
    ]  # fmt: skip


def test_the_shipped_specs_are_the_vendor_s_byte_for_byte() -> None:
    """The simulator validates against the copies in the package: the same bytes as the research bundle."""
    source = (vendor_specs() / "acronis" / "SOURCE.txt").read_text()
    for name in ("account-management-v2.openapi.json", "advanced-automation-v1.openapi.json"):
        digest = hashlib.sha256((PACKAGE / "specs" / name).read_bytes()).hexdigest()
        assert digest == hashlib.sha256((vendor_specs() / "acronis" / name).read_bytes()).hexdigest()
        assert digest in source


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
