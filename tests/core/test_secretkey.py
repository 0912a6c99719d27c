"""The hub's master key: from HUB_SECRET_KEY, or a 0600 key file beside a SQLite store."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.secretkey import KEY_FILE, derive, master_key
from hub.settings import HubSettings


def test_setting_wins_and_is_stable() -> None:
    settings = HubSettings(secret_key="correct horse battery staple")
    assert master_key(settings) == master_key(HubSettings(secret_key="correct horse battery staple"))
    assert master_key(settings) != master_key(HubSettings(secret_key="another long enough key"))


def test_short_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match="HUB_SECRET_KEY: too short"):
        master_key(HubSettings(secret_key="short"))


def test_key_file_is_created_once_private(tmp_path: Path) -> None:
    settings = HubSettings(state_url=f"sqlite:///{tmp_path / 'data' / 'state.sqlite'}")
    first = master_key(settings)
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert master_key(settings) == first and len(first) == 32
    assert sorted(p.name for p in path.parent.iterdir()) == [KEY_FILE]


def test_concurrent_creation_agrees(tmp_path: Path) -> None:
    settings = HubSettings(state_url=f"sqlite:///{tmp_path / 'state.sqlite'}")
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(master_key(settings))) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(keys)) == 1


def test_damaged_key_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("not a key\n")
    with pytest.raises(ConfigError, match="not a key written by the hub"):
        master_key(HubSettings(state_url=f"sqlite:///{tmp_path / 'state.sqlite'}"))


def test_postgres_requires_the_setting() -> None:
    with pytest.raises(ConfigError, match="HUB_SECRET_KEY: required"):
        master_key(HubSettings(state_url="postgresql+psycopg://hub@db/hub"))


def test_purposes_get_different_keys() -> None:
    master = master_key(HubSettings(secret_key="correct horse battery staple"))
    assert derive(master, "a") != derive(master, "b") and len(derive(master, "a")) == 32


def test_timezone_and_roles_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TIMEZONE", "Australia/Sydney")
    monkeypatch.setenv("HUB_ROLES__RMM", "dattormm")
    settings = HubSettings()
    assert str(settings.zone) == "Australia/Sydney"
    assert settings.roles.rmm == "dattormm" and settings.roles.psa == "autotask"
    monkeypatch.setenv("HUB_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        HubSettings()
