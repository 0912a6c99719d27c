"""Settings: env prefix and nesting, .env, hub.yaml, comma lists, one-line errors, exit 2."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
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
    assert err.strip().splitlines() == [
        "hub: HUB_LEAKY__SECRET, HUB_LEAKY__API_KEY and HUB_LEAKY__REFRESH_TOKEN: required but not set"
    ]


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


# -- comma lists at any depth, validation at load, names the hub does not know ------------


def test_comma_lists_at_any_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_LIFECYCLE__HOLIDAYS", "2026-12-25,2026-12-26")
    monkeypatch.setenv("HUB_LIFECYCLE__WEEKEND", "5,6")
    monkeypatch.setenv("HUB_EVENT_STREAMS__QUICKBOOKS__CUSTOMER", "customers,invoices")
    monkeypatch.setenv("HUB_RMM_ALERTS__EXCLUDE_DEVICES", "lab-01")
    s = load_settings()
    assert s.lifecycle.holidays == [date(2026, 12, 25), date(2026, 12, 26)]
    assert s.lifecycle.weekend == [5, 6]
    assert s.event_streams == {"quickbooks": {"customer": ["customers", "invoices"]}}
    assert s.rmm_alerts.exclude_devices == ["lab-01"]


def test_a_single_value_needs_no_comma_and_json_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_LIFECYCLE__HOLIDAYS", "2026-12-25")
    monkeypatch.setenv("HUB_LIFECYCLE__WEEKEND", "[4, 5]")
    s = load_settings()
    assert (s.lifecycle.holidays, s.lifecycle.weekend) == ([date(2026, 12, 25)], [4, 5])


@given(days=st.lists(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), min_size=1, max_size=6))
def test_any_list_of_dates_survives_the_comma_form(days: list[date]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUB_LIFECYCLE__HOLIDAYS", ",".join(d.isoformat() for d in days))
        assert load_settings().lifecycle.holidays == days


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HUB_LIFECYCLE__HOLIDAYS", "2026-13-45", r"^HUB_LIFECYCLE__HOLIDAYS: Input should be a valid date"),
        ("HUB_LIFECYCLE__CRON", "bad cron", r"^HUB_LIFECYCLE__CRON: not a cron expression: 'bad cron'$"),
        ("HUB_LIFECYCLE__WEEKEND", "5,9", r"^HUB_LIFECYCLE__WEEKEND: weekend days are 0 \(Monday\) to 6"),
        ("HUB_LIFECYCLE", "yes", r"^HUB_LIFECYCLE: Input should be a valid dictionary"),
        ("HUB_CELERY_BROKER_URL", "notaurl", r"^HUB_CELERY_BROKER_URL: not a broker URL: 'notaurl'"),
        ("HUB_CELERY_BROKER_URL", "redis://", r"^HUB_CELERY_BROKER_URL: 'redis://' names no host"),
        ("HUB_MAPPINGS_DIR", "/nonexistent", r"^HUB_MAPPINGS_DIR: /nonexistent does not exist$"),
        ("HUB_WORKFLOWS_DIR", "/nonexistent", r"^HUB_WORKFLOWS_DIR: /nonexistent does not exist$"),
        ("HUB_CONFIG_FILE", "/nonexistent", r"^HUB_CONFIG_FILE: /nonexistent does not exist$"),
        ("HUB_LIFECYCLE__HOLIDAYZ", "2026-12-25", r"^HUB_LIFECYCLE__HOLIDAYZ: unknown setting; did you mean "
         r"HUB_LIFECYCLE__HOLIDAYS\?$"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected) as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_broker_urls_of_every_kind_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://:pw@cache.example:6380/1", "amqp://guest@rabbit//",
                "sqla+postgresql://hub@db/hub", "memory://"):  # fmt: skip
        monkeypatch.setenv("HUB_CELERY_BROKER_URL", url)
        assert load_settings().celery_broker_url == url


def test_a_password_in_a_bad_broker_url_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_CELERY_BROKER_URL", "nosuch://user:hunter22@host")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "hunter22" not in str(info.value)


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    monkeypatch.setenv("HUB_CONFIG_FILE", str(path))
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("documents_rot: /srv\n", r"hub\.yaml:1: documents_rot: unknown setting; did you mean documents_root\?$"),
        ("lifecycle:\n  enabled: true\n  holidayz: [2026-12-25]\n",
         r"hub\.yaml:3: lifecycle\.holidayz: unknown setting; did you mean lifecycle\.holidays\?$"),
        ("schedules:\n  - name: a\n    cron: '* * * * *'\n    task: lifecycle\n    enabld: true\n",
         r"hub\.yaml:5: schedules\[0\]\.enabld: unknown setting; did you mean schedules\[0\]\.enabled\?$"),
        ("autotask:\n  usernme: api@example.com\n",
         r"hub\.yaml:2: autotask\.usernme: unknown setting; did you mean autotask\.username\?$"),
        ("autotsk:\n  username: api@example.com\n", r"hub\.yaml:1: autotsk: unknown setting; did you mean autotask\?$"),
        ("zzz: 1\n", r"hub\.yaml:1: zzz: unknown setting \(`hub config reference` lists every setting\)$"),
    ],
)
def test_an_unknown_key_in_hub_yaml_is_exit_2_naming_the_closest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    _config(tmp_path, monkeypatch, text)
    code, out, err = run_cli(["config", "show"], capsys)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert re.search(expected, line), line


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("HUB_DOCUMENTS_ROT", "HUB_DOCUMENTS_ROT: unknown setting; did you mean HUB_DOCUMENTS_ROOT?"),
        ("HUB_AUTOTASK__USERNME", "HUB_AUTOTASK__USERNME: unknown setting; did you mean HUB_AUTOTASK__USERNAME?"),
        ("HUB_ITGLUE__APIKEY", "HUB_ITGLUE__APIKEY: unknown setting; did you mean HUB_ITGLUE__API_KEY?"),
    ],
)
def test_an_unknown_hub_variable_is_exit_2_naming_the_closest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, expected: str
) -> None:
    monkeypatch.setenv(name, "x")
    code, out, err = run_cli(["connectors"], capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"hub: {expected}"]


def test_an_unknown_variable_in_dotenv_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("HUB_LOG_LEVL=DEBUG\n")
    code, _, err = run_cli(["connectors"], capsys)
    assert code == 2
    assert err.strip() == "hub: HUB_LOG_LEVL (in .env): unknown setting; did you mean HUB_LOG_LEVEL?"


def test_settings_of_a_disabled_plugin_are_not_unknown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", "ncentral")
    monkeypatch.setenv("HUB_NCENTRAL__BASE_URL", "https://ncentral.example.com")
    code, _, err = run_cli(["connectors", "--json"], capsys)
    assert code == 0, err


def test_every_known_name_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path, monkeypatch, "documents_root: /srv\nautotask:\n  username: u\nrmm_alerts:\n"
            "  priorities: {critical: P1, warning: P2, information: P3}\n")  # fmt: skip
    monkeypatch.setenv("HUB_RMM_ALERTS__PRIORITIES__CRITICAL", "P1")
    monkeypatch.setenv("HUB_DOCUSIGN__CONNECT_HMAC_KEYS", "a,b")
    from hub.cli.common import check_plugin_settings
    from hub.plugins import HubPlugins

    load_settings()
    check_plugin_settings(HubPlugins())


def test_an_internal_error_shows_its_traceback_only_at_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.cli import core

    def broken(json: bool = False) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "connector_rows", lambda: broken())
    code, _, err = run_cli(["connectors"], capsys)
    assert code == 1
    assert err.strip().splitlines() == [
        "hub: internal error: RuntimeError: boom (rerun with --log-level DEBUG for details)"
    ]
    code, _, err = run_cli(["--log-level", "DEBUG", "connectors"], capsys)
    assert code == 1
    assert "Traceback (most recent call last)" in err and 'raise RuntimeError("boom")' in err
    assert err.strip().splitlines()[-1] == "hub: internal error: RuntimeError: boom"


# -- hub config show -----------------------------------------------------------------------


def test_config_show_json_is_real_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    monkeypatch.setenv("HUB_STATE_URL", "sqlite:////tmp/x/state.sqlite")
    monkeypatch.setenv("HUB_LIFECYCLE__HOLIDAYS", "2026-12-25,2026-12-26")
    monkeypatch.setenv("HUB_ITGLUE__API_KEY", "itg-secret-value")
    monkeypatch.setenv("HUB_AUTOTASK__USERNAME", "api@example.com")
    code, out, err = run_cli(["config", "show", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["hub"]["state_url"] == "sqlite:////tmp/x/state.sqlite"
    assert data["hub"]["lifecycle"]["holidays"] == ["2026-12-25", "2026-12-26"]
    assert data["hub"]["lifecycle"]["psa"] == {"connector": None, "stream": None, "entity": None}
    assert data["itglue"]["api_key"] == "***" and "itg-secret-value" not in out
    assert data["autotask"] == {
        "error": "HUB_AUTOTASK__SECRET and HUB_AUTOTASK__INTEGRATION_CODE: required but not set",
        "missing": ["HUB_AUTOTASK__SECRET", "HUB_AUTOTASK__INTEGRATION_CODE"],
        "configured": True,
    }
    assert data["ncentral"]["missing"] == ["HUB_NCENTRAL__BASE_URL", "HUB_NCENTRAL__JWT"]
    assert data["ncentral"]["configured"] is False


def test_config_show_names_every_variable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("HUB_STATE_URL", "sqlite:////tmp/x/state.sqlite")
    monkeypatch.setenv("HUB_LIFECYCLE__WEEKEND", "4,5")
    monkeypatch.setenv("HUB_LIFECYCLE__PSA__STREAM", "Tickets")
    monkeypatch.setenv("HUB_AUTOTASK__USERNAME", "api@example.com")
    code, out, _ = run_cli(["config", "show"], capsys)
    assert code == 0
    assert "  HUB_STATE_URL = sqlite:////tmp/x/state.sqlite\n" in out
    assert "  HUB_LIFECYCLE__WEEKEND = 4, 5\n" in out
    assert "  HUB_LIFECYCLE__PSA__STREAM = Tickets\n" in out
    assert ("autotask: incomplete: HUB_AUTOTASK__SECRET and HUB_AUTOTASK__INTEGRATION_CODE: required but not set"
            in out)  # fmt: skip
    assert "ncentral: not configured: HUB_NCENTRAL__BASE_URL and HUB_NCENTRAL__JWT: required but not set" in out
    assert "__ERROR" not in out and "more)" not in out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////tmp/x", "sqlite:////tmp/x"),
        ("sqlite:///relative.db", "sqlite:///relative.db"),
        ("postgresql+psycopg://hub:pw@db:5432/hub", "postgresql+psycopg://***@db:5432/hub"),
        ("https://h/p?api_key=k&page=2", "https://h/p?api_key=***&page=2"),
    ],
)
def test_redact_url_masks_secrets_and_keeps_everything_else(url: str, shown: str) -> None:
    from hub.logging import redact_url

    assert redact_url(url) == shown


@given(
    scheme=st.sampled_from(["sqlite", "https", "postgresql+psycopg", "redis"]),
    slashes=st.integers(min_value=0, max_value=4),
    path=st.text(alphabet="abc/._-~0123456789", max_size=20),
    query=st.text(alphabet="abc=&0123456789", max_size=12),
)
def test_a_url_without_secrets_is_shown_exactly_as_given(scheme: str, slashes: int, path: str, query: str) -> None:
    from hub.logging import redact_url

    url = f"{scheme}:{'/' * slashes}{path}" + (f"?{query}" if query else "")
    assert redact_url(url) == url


def test_an_impossible_date_in_hub_yaml_is_one_line_with_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # YAML itself reads 2026-13-45 as a date and fails building it (no YAMLError: a ValueError)
    path = _config(tmp_path, monkeypatch, "lifecycle:\n  holidays: [2026-12-25, 2026-13-45]\n")
    code, out, err = run_cli(["config", "show"], capsys)
    assert (code, out) == (2, "")
    assert err.strip() == (f"hub: {path}:2: lifecycle.holidays.1: '2026-13-45' is not a valid value "
                           "(month must be in 1..12)")  # fmt: skip
