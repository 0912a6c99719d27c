"""Settings: env prefix and nesting, .env, hub.yaml, comma lists, one-line errors, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.errors import ConfigError
from hub.settings import CommaList, ConnectorSettings, load_connector_settings, load_settings, split_commas
from tests.core.fakes import LEAKY_CONNECTOR, install_distribution, run_cli


class DemoSettings(ConnectorSettings):
    username: str
    secret: SecretStr
    base_url: str = "https://api.example.test"
    keys: CommaList = []
    page_size: int = 100

    from pydantic import field_validator as _fv

    _split = _fv("keys", mode="before")(split_commas)


def test_env_prefix_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DEMO__USERNAME", "api@example.test")
    monkeypatch.setenv("HUB_DEMO__SECRET", "hunter2-very-secret")
    s = load_connector_settings(DemoSettings, "demo")
    assert isinstance(s, DemoSettings)
    assert s.username == "api@example.test"
    assert s.secret.get_secret_value() == "hunter2-very-secret"
    assert "hunter2" not in repr(s)


def test_missing_setting_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DEMO__USERNAME", "u")
    with pytest.raises(ConfigError) as info:
        load_connector_settings(DemoSettings, "demo")
    assert str(info.value) == "HUB_DEMO__SECRET: required but not set"


def test_invalid_setting_names_variable_and_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {"USERNAME": "u", "SECRET": "s3cret-value", "PAGE_SIZE": "lots"}.items():
        monkeypatch.setenv(f"HUB_DEMO__{k}", v)
    with pytest.raises(ConfigError) as info:
        load_connector_settings(DemoSettings, "demo")
    assert str(info.value).startswith("HUB_DEMO__PAGE_SIZE: ")
    assert "integer" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("raw", "expected"), [("a", ["a"]), ("a,b", ["a", "b"]), (" a , b ,", ["a", "b"])])
def test_comma_lists_need_no_json(monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]) -> None:
    for k, v in {"USERNAME": "u", "SECRET": "s", "KEYS": raw}.items():
        monkeypatch.setenv(f"HUB_DEMO__{k}", v)
    assert load_connector_settings(DemoSettings, "demo").keys == expected


def test_yaml_then_dotenv_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_DOCUMENTS_ROOT")
    (tmp_path / "hub.yaml").write_text(
        "documents_root: /srv/clients\ndemo:\n  username: from-yaml\n  secret: yaml-secret\n  page_size: 7\n"
    )
    monkeypatch.setenv("HUB_CONFIG_FILE", str(tmp_path / "hub.yaml"))
    (tmp_path / ".env").write_text("HUB_DEMO__USERNAME=from-dotenv\n")
    s = load_connector_settings(DemoSettings, "demo")
    assert (s.username, s.page_size) == ("from-dotenv", 7)
    monkeypatch.setenv("HUB_DEMO__USERNAME", "from-env")
    assert load_connector_settings(DemoSettings, "demo").username == "from-env"
    assert str(load_settings().documents_root) == "/srv/clients"


def test_bad_yaml_points_at_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("demo:\n  username: [unclosed\n")
    monkeypatch.setenv("HUB_CONFIG_FILE", str(path))
    with pytest.raises(ConfigError, match=r"hub\.yaml:\d+: not valid YAML"):
        load_settings()


def test_core_settings_defaults_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_DOCUMENTS_ROOT")
    s = load_settings()
    assert str(s.documents_root) == "client-folders"
    monkeypatch.setenv("HUB_LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError, match=r"^HUB_LOG_LEVEL: must be DEBUG, INFO, WARNING or ERROR$"):
        load_settings()


def test_cli_exits_2_with_one_line_for_a_missing_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install_distribution(
        tmp_path / "site", monkeypatch, "leaky-plugin", {"leaky_plugin": LEAKY_CONNECTOR}, {"leaky": "leaky_plugin"}
    )
    monkeypatch.setenv("HUB_LEAKY__USERNAME", "someone")
    code, out, err = run_cli(["check", "leaky"], capsys)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == ["hub: HUB_LEAKY__SECRET: required but not set (and 2 more)"]


def test_cli_exits_2_for_a_bad_core_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_WEBHOOK_MAX_BYTES", "-5")
    code, _, err = run_cli(["config", "show"], capsys)
    assert code == 2
    assert err.strip().startswith("hub: HUB_WEBHOOK_MAX_BYTES: ")
    assert len(err.strip().splitlines()) == 1


def test_cli_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_cli(["no-such-command"], capsys)
    assert code == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.startswith("msp-hub ")
