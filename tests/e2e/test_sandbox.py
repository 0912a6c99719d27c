"""`hub sandbox`: the simulators alone, seeded, with the settings that point the hub at them,
served until Ctrl-C; every command then works against them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.fakes import run_cli


def _first_json(stream: object) -> dict:
    lines: list[str] = []
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise AssertionError("hub sandbox ended before printing its settings: " + "".join(lines))


def test_sandbox_serves_until_ctrl_c_and_the_hub_works_against_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "sandbox"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONFIG_FILE"] = os.environ["HUB_CONFIG_FILE"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sandbox", "--companies", "6", "--seed", "3", "--dir", str(folder), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        shown = _first_json(proc.stdout)
        assert set(shown["simulators"]) >= {"autotask", "itglue", "quickbooks", "docusign", "ncentral"}
        assert shown["env"]["HUB_STATE_URL"] == f"sqlite:///{folder.resolve() / 'state.sqlite'}"
        written = (folder / "sandbox.env").read_text()
        assert "HUB_AUTOTASK__API_ROOT=" in written and "HUB_ITGLUE__BASE_URL=" in written
        for key, value in shown["env"].items():
            monkeypatch.setenv(key, value)
        code, out, err = run_cli(["sync", "psa-to-docs", "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)["created"] > 0
        code, out, err = run_cli(["check", "quickbooks"], capsys)
        assert code == 0, err
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "simulators stopped" in err


def test_a_busy_port_base_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        code, out, err = run_cli(["sandbox", "--port-base", str(port), "--dir", str(tmp_path / "s")], capsys)
    assert (code, out) == (2, "")
    (line,) = err.strip().splitlines()
    assert re.match(rf"hub: --port-base {port}: port {port} \(for [a-z]+\) is in use", line), line
