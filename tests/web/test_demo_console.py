"""``hub demo --console``: the walk-through, then the console served with a demo user until Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.web.support import csrf_of

pytestmark = pytest.mark.slow

#: generous: the walk-through runs first on a machine shared with other tests
STARTUP_S = 120


def test_demo_console_serves_a_run_waiting_on_a_person_until_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--console", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "press Ctrl-C to stop" in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(STARTUP_S) and process.poll() is None, "".join(lines)
        out = "".join(lines)
        found = re.search(r"open (http://127\.0\.0\.1:\d+)/ and sign in as demo with password (\S+)", out)
        run = re.search(r"Sam Lee's run waits on you: (\S+)", out)
        assert found and run, out
        url, password = found.groups()
        with httpx.Client(base_url=url) as browser:
            token = csrf_of(browser.get("/login").text)
            signed_in = browser.post("/login", data={"username": "demo", "password": password, "csrf_token": token})
            assert signed_in.status_code == 303
            page = browser.get(run.group(1).removeprefix(url))
            assert "Ask Sam Lee (518-555-0123) to confirm they want an appointment" in page.text
            assert 'name="csrf_token"' in page.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        reader.join(timeout=10)
        assert "console stopped" in "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
