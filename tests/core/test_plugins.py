"""Plugin discovery: broken plugins are listed with their error, never fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.plugins import HubPlugins
from tests.core.fakes import LEAKY_CONNECTOR, install_distribution, run_cli

BROKEN_IMPORT = "import this_module_does_not_exist_anywhere\n"

UNKNOWN_HOOK = """
from hub.sdk import hookimpl

@hookimpl
def hub_register_connectorz(registry):
    pass
"""

NOT_A_CONNECTOR = """
from hub.sdk import hookimpl

class NotAConnector:
    name = "nope"

@hookimpl
def hub_register_connectors(registry):
    registry.add(NotAConnector)
"""

RAISES_IN_HOOK = """
from hub.sdk import hookimpl

@hookimpl
def hub_register_connectors(registry):
    raise RuntimeError("my plugin blew up")
"""


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_distribution(
        tmp_path / "site",
        monkeypatch,
        "third-party-plugins",
        {
            "broken_import": BROKEN_IMPORT,
            "unknown_hook": UNKNOWN_HOOK,
            "not_a_connector": NOT_A_CONNECTOR,
            "raises_in_hook": RAISES_IN_HOOK,
            "leaky_plugin": LEAKY_CONNECTOR,
        },
        {
            "brokenimport": "broken_import",
            "unknownhook": "unknown_hook",
            "notaconnector": "not_a_connector",
            "raisesinhook": "raises_in_hook",
            "leaky": "leaky_plugin",
        },
    )


def test_broken_plugins_are_listed_and_the_good_ones_still_work(
    third_party: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["connectors", "--json"], capsys)
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["leaky"]["status"] == "ok"
    assert rows["leaky"]["distribution"] == "third-party-plugins"
    assert "No module named 'this_module_does_not_exist_anywhere'" in rows["brokenimport"]["error"]
    assert "hub_register_connectorz" in rows["unknownhook"]["error"]
    assert "not a subclass of hub.sdk.Connector" in rows["notaconnector"]["error"]
    assert "my plugin blew up" in rows["raisesinhook"]["error"]
    assert all(rows[n]["status"] == "error" for n in ("brokenimport", "unknownhook", "notaconnector", "raisesinhook"))


def test_table_output_lists_broken_plugins_too(third_party: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["connectors"], capsys)
    assert code == 0
    assert "leaky" in out and "brokenimport" in out


def test_disable_plugins(
    third_party: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", "brokenimport,leaky")
    code, out, _ = run_cli(["connectors", "--json"], capsys)
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["leaky"]["status"] == "disabled"
    assert rows["brokenimport"]["status"] == "disabled"
    assert rows["unknownhook"]["status"] == "error"


def test_single_disabled_plugin_needs_no_comma(third_party: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", "leaky")
    from hub.settings import load_settings

    assert load_settings().disable_plugins == ["leaky"]


def test_using_a_broken_connector_says_why(third_party: None) -> None:
    plugins = HubPlugins()
    with pytest.raises(ConfigError, match="unknown connector 'missing'"):
        plugins.connector_class("missing")
    with pytest.raises(ConfigError, match="broken"):
        plugins.connector_class("brokenimport")


def test_builtin_connectors_register_through_the_entry_point_group() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="msp_hub")}
    assert {"core", "autotask", "itglue", "quickbooks", "docusign", "ncentral"} <= names
