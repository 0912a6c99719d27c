"""A small fake connector and a way to install plugins as real distributions, for core tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest


def install_distribution(
    root: Path, monkeypatch: pytest.MonkeyPatch, dist: str, modules: dict[str, str], entry_points: dict[str, str]
) -> None:
    """Write a minimal installed distribution (dist-info + modules) and put it on sys.path.

    importlib.metadata finds it exactly as it finds a pip-installed plugin.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[msp_hub]\n{lines}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))


LEAKY_CONNECTOR = '''
from typing import Any
from pydantic import SecretStr
from hub.sdk import CheckResult, Connector, ConnectorSettings, hookimpl


class LeakySettings(ConnectorSettings):
    base_url: str = "https://leaky.example.test"
    username: str
    secret: SecretStr
    api_key: SecretStr
    refresh_token: SecretStr


class Leaky(Connector):
    """Puts its secrets everywhere a careless connector would: headers, query, body."""

    name = "leaky"
    version = "1.0"
    settings_model = LeakySettings
    auth_settings = ("username", "secret")

    def client(self):
        if not hasattr(self, "_client"):
            s = self.settings
            self._client = self.make_client(
                s.base_url,
                headers={"Secret": s.secret.get_secret_value(), "X-Api-Key": s.api_key.get_secret_value()},
            )
        return self._client

    def check(self) -> CheckResult:
        s = self.settings
        self.log.info("checking", username=s.username, token=s.refresh_token.get_secret_value())
        self.client().get(
            "/v1/me",
            params={"api_key": s.api_key.get_secret_value(), "user": s.username},
        )
        return CheckResult(True, {"user": s.username})


@hookimpl
def hub_register_connectors(registry: Any) -> None:
    registry.add(Leaky)
'''


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from hub.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def env_for(prefix: str, values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"{prefix}{key.upper()}", str(value))
