"""A unique secret in every secret setting never reaches logs, exceptions or CLI output."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import httpx
import pytest
import respx

from tests.core.fakes import LEAKY_CONNECTOR, env_for, install_distribution, run_cli


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    install_distribution(
        tmp_path / "site", monkeypatch, "leaky-plugin", {"leaky_plugin": LEAKY_CONNECTOR}, {"leaky": "leaky_plugin"}
    )
    values = {
        "secret": f"S3cr3t-{uuid.uuid4().hex}",
        "api_key": f"K3y-{uuid.uuid4().hex}",
        "refresh_token": f"R3fr3sh-{uuid.uuid4().hex}",
    }
    env_for("HUB_LEAKY__", {"username": "api-user@example.test", **values}, monkeypatch)
    return values


def assert_clean(text: str, secrets: dict[str, str]) -> None:
    for name, value in secrets.items():
        assert value not in text, f"secret {name} leaked: ...{text[max(0, text.find(value) - 80) :][:200]}"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(401, json={"message": "bad credentials for key <api_key> and <secret>"}),
        httpx.Response(500, text="internal error while handling <refresh_token>"),
        httpx.ConnectError("could not connect to leaky.example.test with <secret>"),
    ],
    ids=["401-echoing-secrets", "500-echoing-token", "connect-error"],
)
def test_secrets_never_leak_when_http_fails(
    failure: object,
    secrets: dict[str, str],
    respx_mock: respx.MockRouter,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)

    def fill(text: str) -> str:
        for name, value in secrets.items():
            text = text.replace(f"<{name}>", value)
        return text

    if isinstance(failure, httpx.Response):
        body = fill(failure.content.decode())
        failure = httpx.Response(failure.status_code, content=body.encode(), headers=failure.headers)
    else:
        failure = type(failure)(fill(str(failure)))
    route = respx_mock.get(url__startswith="https://leaky.example.test/v1/me").mock(side_effect=[failure] * 10)
    monkeypatch.setattr("hub.http.RetryPolicy.backoff", lambda self, attempt: 0.0)

    code, out, err = run_cli(["--log-level", "DEBUG", "check", "leaky"], capsys)
    assert route.called
    assert code != 0
    assert err.strip(), "the failure must be reported"
    assert_clean(out + err + caplog.text, secrets)
    # the user still learns where it failed
    assert "leaky.example.test/v1/me" in err


def test_config_show_masks_secrets(secrets: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["config", "show", "--json"], capsys)
    assert code == 0, err
    assert_clean(out + err, secrets)
    assert '"secret": "***"' in out


def test_json_logs_are_redacted(
    secrets: dict[str, str], respx_mock: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    respx_mock.get(url__startswith="https://leaky.example.test/v1/me").mock(return_value=httpx.Response(200, json={}))
    code, out, err = run_cli(["--log-json", "--log-level", "DEBUG", "check", "leaky"], capsys)
    assert code == 0, err
    assert '"event": "http.request"' in err
    assert_clean(out + err, secrets)
