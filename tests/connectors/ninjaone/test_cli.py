"""`hub check ninjaone`, `hub connectors` and `hub sync` with NinjaOne in the RMM role, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from connectors.ninjaone import NinjaoneConnector
from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    with SandboxSet({"ninjaone": NinjaoneConnector}, {"ninjaone": {"size": 30, "seed": 3, "alerts": 4}}) as sandboxes:
        for key, value in sandboxes.env.items():
            monkeypatch.setenv(key, value)
        yield sandboxes


def test_check_shows_the_instance_and_scopes_and_never_the_secret(
    served: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["check", "ninjaone"], capsys)
    assert code == 0, err
    assert "scopes granted" in out and "monitoring management" in out and "active alerts" in out
    assert served.control("ninjaone").client_secret not in out + err


def test_check_with_a_wrong_secret_exits_2_with_one_line_naming_the_settings(
    served: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_NINJAONE__CLIENT_SECRET", "not-the-secret")
    code, out, err = run_cli(["check", "ninjaone"], capsys)
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert "Bad client credentials" in line and "HUB_NINJAONE__CLIENT_SECRET" in line
    assert "not-the-secret" not in out + err


def test_check_without_settings_exits_2_naming_the_missing_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["check", "ninjaone"], capsys)
    assert code == 2 and "HUB_NINJAONE__" in err and "required but not set" in err


def test_connectors_lists_ninjaone_with_its_role_streams_and_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["connectors", "--json"], capsys)
    assert code == 0
    listed = json.dumps(json.loads(out))
    assert '"ninjaone"' in listed and "active_issues" in listed and "reset_alert" in listed
