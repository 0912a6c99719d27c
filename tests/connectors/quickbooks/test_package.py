"""The package as the hub sees it: plugin, settings, imports, check, sandbox, scale."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

import connectors.quickbooks as package
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.simdata import CompanyFile
from hub.plugins import HubPlugins
from hub.sdk import ConfigError, FakeClock

from .conftest import START, load_settings


def test_connector_code_imports_only_hub_sdk() -> None:
    for path in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("hub") or name == "hub.sdk", f"{path.name} imports {name}"


def test_registered_through_the_entry_point() -> None:
    plugins = HubPlugins()
    assert plugins.connector_class("quickbooks") is QuickBooksConnector


def test_class_declarations() -> None:
    assert QuickBooksConnector.writable == {
        "Customer": "organization",
        "InvoiceRecipient": "invoice_recipient",
    }
    (limit,) = QuickBooksConnector.rate_limits
    assert (limit.requests, limit.per_seconds, limit.concurrent) == (500, 60, 10)
    assert {s.name for s in QuickBooksConnector.stream_classes} == {
        "customers",
        "invoice_recipients",
        "invoice_emails",
    }


def test_settings_come_from_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "REALM_ID": "123",
        "CLIENT_ID": "cid",
        "CLIENT_SECRET": "cs",
        "REFRESH_TOKEN": "rt",
        "WEBHOOK_VERIFIER_TOKEN": "vt",
        "MINOR_VERSION": "70",
        "BASE_URL": "https://sandbox-quickbooks.api.intuit.com/",
        "TOKEN_URL": "https://example.test/token",
    }.items():
        monkeypatch.setenv(f"HUB_QUICKBOOKS__{name}", value)
    settings = load_settings({})
    assert (settings.realm_id, settings.client_id, settings.minor_version) == ("123", "cid", 70)
    assert settings.base_url == "https://sandbox-quickbooks.api.intuit.com"
    assert settings.webhook_verifier_token is not None
    assert "cs" not in repr(settings) and "rt" not in repr(settings.refresh_token)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"client_id": "c", "client_secret": "s", "refresh_token": "r"},
            "HUB_QUICKBOOKS__REALM_ID: required",
        ),
        (
            {"realm_id": "abc", "client_id": "c", "client_secret": "s", "refresh_token": "r"},
            "HUB_QUICKBOOKS__REALM_ID: must be the QuickBooks company id",
        ),
        (
            {"realm_id": "1", "client_id": "c", "client_secret": "s"},
            "HUB_QUICKBOOKS__REFRESH_TOKEN: required",
        ),
        (
            {
                "realm_id": "1",
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
                "base_url": "ftp://x",
            },
            "HUB_QUICKBOOKS__BASE_URL: must be an http",
        ),
    ],
)
def test_bad_settings_give_one_precise_line(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(overrides)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_check_reports_without_secrets(qb: QuickBooksConnector) -> None:
    result = qb.check()
    assert result.ok and result.details["company"] == "Sandbox Company_US_1"
    text = " ".join(result.details.values())
    assert qb.settings.client_secret.get_secret_value() not in text


def test_sandbox_settings_connect_anew_each_time() -> None:
    sandbox = QuickBooksConnector.sandbox(size=5)
    a, b = sandbox.settings("http://127.0.0.1:1/"), sandbox.settings("http://127.0.0.1:1")
    assert a["refresh_token"] != b["refresh_token"]
    assert a["token_url"] == "http://127.0.0.1:1/oauth2/v1/tokens/bearer"
    assert sandbox.control.count("customers") == 5


def test_seeding_100000_customers_is_possible() -> None:
    started = time.perf_counter()
    data = CompanyFile(100_000, seed=1, now=FakeClock(START).now(), invoice_ratio=0.2)
    assert len(data.customers) == 100_000 and len(data.names) == 100_000
    rows = data.select("Customer", [], "Id", False)
    assert len(rows) == 100_000
    assert time.perf_counter() - started < 60
