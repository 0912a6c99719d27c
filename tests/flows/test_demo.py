"""`hub demo` through the CLI: exit 0, each part shown, the signed PDF where it says, nothing of the user's touched."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.core.fakes import run_cli


def test_demo_runs_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the user's own settings must not leak in: a workflows folder that would break the run
    monkeypatch.setenv("HUB_WORKFLOWS_DIR", str(tmp_path / "no-such-folder"))
    user_state = tmp_path / "state.sqlite"  # HUB_STATE_URL of the test environment
    folder = tmp_path / "demo"
    started = time.monotonic()
    code, out, err = run_cli(["demo", "--dir", str(folder)], capsys)
    elapsed = time.monotonic() - started
    assert code == 0, out + err
    assert elapsed < 60
    assert re.search(r"1\. hub sync psa-to-docs.*\n\s+ok: read \d+, created [1-9]", out)
    assert "2. hub workflow start new-breakfix-customer" in out
    assert "DocuSign (simulator): Maria Garcia signs envelope" in out
    # the signature came through the receiver (an event), not a poll
    assert re.search(r"✓ 11\. Customer e-signs the terms docusign envelope-completed", out)
    assert "✓ 17. Technician sent the assignment" in out
    pdf = re.search(r"signed PDF saved to (.+\.pdf)", out)
    assert pdf is not None
    path = Path(pdf.group(1).strip())
    assert path.is_file() and path.parent == folder.resolve() / "client-folders" / "Maria Garcia"
    assert path.read_bytes().startswith(b"%PDF-")
    assert re.search(r"compliance: \d+ violations \(report-recipient \d+, invoice-contact \d+", out)
    assert "demo finished in" in out
    assert (folder / "state.sqlite").is_file() and not user_state.exists()
