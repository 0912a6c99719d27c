"""Settings names and parsing, plugin registration, and the hub.sdk-only import rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.docusign import DocuSignConnector
from connectors.docusign.settings import DocuSignSettings
from hub.plugins import ConnectorRegistry
from hub.sdk import ConfigError
from hub.settings import load_connector_settings

PACKAGE = Path(__file__).resolve().parents[3] / "connectors" / "docusign"

REQUIRED = {
    "HUB_DOCUSIGN__ACCOUNT_ID": "acc-guid",
    "HUB_DOCUSIGN__INTEGRATION_KEY": "ik-guid",
    "HUB_DOCUSIGN__USER_ID": "user-guid",
    "HUB_DOCUSIGN__PRIVATE_KEY_FILE": "/secrets/docusign.pem",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no stray .env or hub.yaml
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def load() -> DocuSignSettings:
    return load_connector_settings(DocuSignSettings, "docusign")


def test_every_setting_reads_its_exact_env_name(env: pytest.MonkeyPatch) -> None:
    env.setenv("HUB_DOCUSIGN__AUTH_SERVER", "account-d.docusign.com")
    env.setenv("HUB_DOCUSIGN__BASE_URI", "https://demo.docusign.net/restapi/")
    env.setenv("HUB_DOCUSIGN__CONNECT_HMAC_KEYS", "k1")
    env.setenv("HUB_DOCUSIGN__TC_TEMPLATE_ID", "tpl-guid")
    s = load()
    assert s.account_id == "acc-guid"
    assert s.integration_key == "ik-guid"
    assert s.user_id == "user-guid"
    assert s.private_key_file == Path("/secrets/docusign.pem")
    assert s.tc_template_id == "tpl-guid"
    assert s.auth_url == "https://account-d.docusign.com"
    assert s.auth_audience == "account-d.docusign.com"
    assert s.base_uri == "https://demo.docusign.net"  # the console shows '/restapi'; the API adds it


def test_defaults(env: pytest.MonkeyPatch) -> None:
    s = load()
    assert s.auth_server == "account.docusign.com"
    assert s.auth_url == "https://account.docusign.com"
    assert s.base_uri is None
    assert s.hmac_keys == []
    assert s.tc_template_id is None


def test_auth_server_may_be_a_url_for_a_simulator(env: pytest.MonkeyPatch) -> None:
    env.setenv("HUB_DOCUSIGN__AUTH_SERVER", "http://127.0.0.1:8765/")
    s = load()
    assert s.auth_url == "http://127.0.0.1:8765"
    assert s.auth_audience == "127.0.0.1:8765"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("single-key", ["single-key"]), ("k1,k2", ["k1", "k2"]), (" k1 , k2 ,", ["k1", "k2"])],
)
def test_hmac_keys_are_comma_separated_secrets(
    env: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    env.setenv("HUB_DOCUSIGN__CONNECT_HMAC_KEYS", raw)
    s = load()
    assert all(isinstance(k, SecretStr) for k in s.hmac_keys)
    assert [k.get_secret_value() for k in s.hmac_keys] == expected
    assert "k1" not in repr(s) and "single-key" not in repr(s)


def test_missing_required_setting_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.delenv("HUB_DOCUSIGN__USER_ID")
    with pytest.raises(ConfigError, match=r"^HUB_DOCUSIGN__USER_ID: required but not set$"):
        load()


def test_bad_base_uri_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("HUB_DOCUSIGN__BASE_URI", "demo.docusign.net")
    with pytest.raises(ConfigError, match=r"^HUB_DOCUSIGN__BASE_URI: not a URL"):
        load()


def test_plugin_registers_the_connector() -> None:
    from connectors.docusign import plugin

    registry = ConnectorRegistry()
    plugin.hub_register_connectors(registry)
    assert registry.classes == {"docusign": DocuSignConnector}


def test_declarations() -> None:
    caps = DocuSignConnector.capabilities()
    assert caps["streams"] == [
        {"name": "envelopes", "kind": "signature_request", "cursor": "statusChangedDateTime"}
    ]
    assert caps["writes"] == {"envelopes": "signature_request"}
    assert caps["actions"] == ["download_signed", "form_data", "send_form", "send_terms"]
    assert caps["webhooks"] is True
    limits = {(r.requests, r.per_seconds) for r in DocuSignConnector.rate_limits}
    assert limits == {(3000, 3600), (500, 30)}


def test_connector_imports_only_hub_sdk_from_the_hub() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "hub" and n != "hub.sdk"]
    assert offenders == []
