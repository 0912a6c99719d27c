"""`hub check dattormm` and `hub connectors` through the CLI, against the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from connectors.dattormm import DattormmConnector
from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    with SandboxSet({"dattormm": DattormmConnector}, {"dattormm": {"size": 30, "seed": 3}}) as sandboxes:
        for key, value in sandboxes.env.items():
            monkeypatch.setenv(key, value)
        yield sandboxes


def test_check_shows_the_account_and_never_the_keys(served: SandboxSet, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["check", "dattormm"], capsys)
    assert code == 0, err
    assert "Northwind MSP" in out and "reads in the last minute" in out
    control = served.control("dattormm")
    assert control.api_key not in out + err and control.api_secret not in out + err


def test_check_with_a_wrong_secret_exits_2_with_one_line_naming_the_settings(
    served: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATTORMM__API_SECRET", "not-the-secret")
    code, out, err = run_cli(["check", "dattormm"], capsys)
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert "Bad credentials" in line and "HUB_DATTORMM__API_SECRET" in line
    assert "not-the-secret" not in out + err


def test_check_without_settings_exits_2_naming_the_missing_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["check", "dattormm"], capsys)
    assert code == 2 and "HUB_DATTORMM__" in err and "required but not set" in err


def test_connectors_lists_datto_rmm_with_its_streams_and_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["connectors", "--json"], capsys)
    assert code == 0
    listed = json.dumps(json.loads(out))
    assert '"dattormm"' in listed and "active_issues" in listed and "resolve_alert" in listed
