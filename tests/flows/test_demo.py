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
    assert re.search(r"1\. hub sync psa-to-docs.*\n\s+psa-to-docs: ok: read \d+, created [1-9]", out)
    # the RMM part, with the default RMM: its devices become configuration items, its alerts tickets
    assert "2. hub sync rmm-devices, rmm-alerts: N-able N-central devices and alerts into Datto/Kaseya" in out
    assert re.search(r"rmm-devices: ok: read \d+, created 6,", out)
    assert re.search(r"rmm-alerts: ok: read 2, created 2,", out)
    assert "3. hub workflow start new-breakfix-customer" in out
    assert "DocuSign eSignature (simulator): Maria Garcia signs envelope" in out
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


def test_demo_runs_again_in_the_same_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # each run serves new simulators: the folder's store from the run before must not
    # point the second run at the first run's (gone) simulators or cursors
    monkeypatch.setenv("HUB_LIFECYCLE__HOLIDAYS", "2026-13-45")  # the user's settings play no part,
    monkeypatch.setenv("HUB_NO_SUCH_SETTING", "1")  # not even broken ones
    folder = tmp_path / "demo"
    for _ in range(2):
        code, out, err = run_cli(["demo", "--dir", str(folder)], capsys)
        assert code == 0, out + err
        assert re.search(r"1\. hub sync psa-to-docs.*\n\s+psa-to-docs: ok: read [1-9]\d*, created [1-9]", out)
        assert "demo finished in" in out


def test_demo_never_replaces_a_store_it_did_not_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "state.sqlite").write_bytes(b"an operator's real store")
    code, out, err = run_cli(["demo", "--dir", str(folder)], capsys)
    assert (code, out) == (2, "")
    assert err.strip() == (f"hub: --dir {folder}: it holds a state store that no demo or sandbox made; "
                           "choose another folder")  # fmt: skip
    assert (folder / "state.sqlite").read_bytes() == b"an operator's real store"


def test_demo_shows_the_rmm_it_is_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["demo", "--rmm", "dattormm", "--dir", str(tmp_path / "demo")], capsys)
    assert code == 0, out + err
    assert "simulator dattormm on http://127.0.0.1:" in out and "simulator ncentral" not in out
    assert "2. hub sync rmm-devices, rmm-alerts: Datto RMM devices and alerts into Datto/Kaseya Autotask PSA" in out
    assert "accounts (in real life they are there already): Acme Dental, Globex Dental" in out
    assert re.search(r"rmm-devices: ok: read \d+, created 6,", out)
    assert re.search(r"rmm-alerts: ok: read 2, created 2,", out)
    assert "demo finished in" in out


def test_demo_refuses_an_rmm_that_cannot_fill_the_role(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["demo", "--rmm", "itglue", "--dir", str(tmp_path / "demo")], capsys)
    assert (code, out) == (2, "")
    assert err.strip() == ("hub: --rmm itglue: itglue cannot fill the rmm role: it fills docs; "
                           "connectors that can: dattormm, ncentral")  # fmt: skip
