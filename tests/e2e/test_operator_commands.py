"""The operator's commands through the CLI against the Autotask and IT Glue simulators:
sync --all and --select, runs, audit, state, doctor, exit codes of a refused credential,
a sync refused because one runs, and Ctrl-C with the summary so far."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.sandbox import SandboxSet
from hub.settings import load_settings
from hub.state.store import StateStore
from tests.core.fakes import run_cli

pytestmark = pytest.mark.sandboxes(autotask={"size": 12, "seed": 5}, itglue={"size": 0, "seed": 3})


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code, out, err = run_cli([*argv, "--json"], capsys)
    assert out.strip(), err
    return code, json.loads(out), err


def test_select_state_runs_and_audit(sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]) -> None:
    autotask, itglue = sandboxes.control("autotask"), sandboxes.control("itglue")
    code, companies_only, _ = cli_json(capsys, "sync", "psa-to-docs", "--select", "Companies")
    assert code == 0 and companies_only["read"] == autotask.count("Companies")
    assert itglue.count("contacts") == 0  # the contacts step did not run
    code, summary, _ = cli_json(capsys, "sync", "psa-to-docs")
    assert code == 0 and summary["read"] == autotask.count("Contacts")  # no company changed since
    assert itglue.count("contacts") > 0

    code, cursors, _ = cli_json(capsys, "state", "list", "--job", "psa-to-docs")
    assert {c["stream"] for c in cursors} == {"Companies", "Contacts"}
    assert all(c["cursor"] for c in cursors)
    code, reset, _ = cli_json(capsys, "state", "reset", "psa-to-docs", "--stream", "Contacts")
    assert reset["reset"] == 1
    code, again, _ = cli_json(capsys, "sync", "psa-to-docs")
    # contacts read again from the start, and nothing written twice
    assert (code, again["read"], again["created"], again["updated"]) == (0, autotask.count("Contacts"), 0, 0)

    code, runs, _ = cli_json(capsys, "runs", "--job", "psa-to-docs")
    assert [r["summary"]["created"] for r in runs] == [0, summary["created"], companies_only["created"]]
    first = runs[-1]
    code, shown, _ = cli_json(capsys, "runs", "show", first["id"][:8])
    assert shown["writes"] == companies_only["created"] > 0
    code, audited, _ = cli_json(capsys, "audit", "--run", first["id"][:8], "--limit", "1000")
    assert len(audited) == shown["writes"] and {a["system"] for a in audited} == {"itglue"}
    record = audited[0]["record_id"]
    code, one, _ = cli_json(capsys, "audit", "--system", "itglue", "--record", record)
    assert [a["record_id"] for a in one] == [record]


def test_sync_all_runs_what_is_configured_and_skips_the_rest(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, body, _ = cli_json(capsys, "sync", "--all")
    assert code == 0, body
    status = {s["job"]: s["status"] for s in body["jobs"]}
    assert status == {"accounting-recipients": "skipped", "psa-to-docs": "ok", "rmm-alerts": "skipped",
                      "rmm-devices": "skipped"}  # fmt: skip
    skipped = next(s for s in body["jobs"] if s["job"] == "rmm-devices")
    assert skipped["reason"] == "ncentral not configured"
    assert body["status"] == "ok"


def test_sync_all_with_nothing_configured_is_exit_2(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(sandboxes.env):
        monkeypatch.delenv(key)
    code, body, err = cli_json(capsys, "sync", "--all")
    assert code == 2 and "no job can run" in body["error"] and len(err.strip().splitlines()) == 1


def test_a_partly_configured_connector_names_every_missing_variable(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_AUTOTASK__SECRET")
    monkeypatch.delenv("HUB_AUTOTASK__INTEGRATION_CODE")
    for argv in (["sync", "psa-to-docs"], ["check", "autotask"], ["sync", "--all"]):
        code, out, err = run_cli(argv, capsys)
        assert (code, out) == (2, "")
        assert err.strip().splitlines() == [
            "hub: HUB_AUTOTASK__SECRET and HUB_AUTOTASK__INTEGRATION_CODE: required but not set"
        ], argv


def test_a_refused_credential_is_exit_2_from_check_and_sync(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_ITGLUE__API_KEY", "ITG.not-the-key")
    code, out, err = run_cli(["check", "itglue"], capsys)
    assert (code, out) == (2, "")
    assert "itglue: authentication failed; check HUB_ITGLUE__API_KEY" in err
    assert "ITG.not-the-key" not in err
    code, summary, _ = cli_json(capsys, "sync", "psa-to-docs")
    assert code == 2
    assert (summary["status"], summary["error_type"]) == ("failed", "config")


def test_a_sync_refused_because_one_runs_still_prints_one_object(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    store = StateStore.open(load_settings().state_url)
    try:
        with store.lock("sync:psa-to-docs"):
            code, body, err = cli_json(capsys, "sync", "psa-to-docs")
    finally:
        store.close()
    assert code == 1
    assert body["status"] == "refused" and "already running" in body["error"]
    assert len(err.strip().splitlines()) == 1


def test_ctrl_c_prints_the_summary_so_far_and_a_rerun_resumes(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.cli.progress import SyncDisplay

    autotask, itglue = sandboxes.control("autotask"), sandboxes.control("itglue")
    pages: list[int] = []
    real = SyncDisplay.__call__

    def interrupted_on_the_contacts(self: SyncDisplay, progress: Any) -> None:
        real(self, progress)
        pages.append(progress.read)
        if "Contacts" in progress.step:  # Ctrl-C once the companies are written
            raise KeyboardInterrupt

    monkeypatch.setattr(SyncDisplay, "__call__", interrupted_on_the_contacts)
    code, summary, err = cli_json(capsys, "sync", "psa-to-docs")
    assert code == 130
    assert summary["status"] == "interrupted" and summary["created"] == itglue.count("organizations") > 0
    assert "interrupted" in err and "`hub sync psa-to-docs` resumes from there" in err
    code, runs, _ = cli_json(capsys, "runs")
    assert runs[0]["status"] == "interrupted"

    monkeypatch.setattr(SyncDisplay, "__call__", real)
    code, rest, _ = cli_json(capsys, "sync", "psa-to-docs")
    assert code == 0 and rest["status"] == "ok"
    organizations = itglue.count("organizations")
    code, again, _ = cli_json(capsys, "sync", "psa-to-docs", "--full-refresh")
    assert (again["created"], again["updated"]) == (0, 0)  # nothing created twice
    assert itglue.count("organizations") == organizations
    assert autotask.count("Companies") >= organizations


def test_doctor_reports_every_part(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_CELERY_BROKER_URL", "memory://")
    code, report, _ = cli_json(capsys, "doctor")
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 0 and report["ok"] is True
    assert [checks[n]["status"] for n in ("settings", "state store", "broker", "autotask", "itglue")] == ["ok"] * 5
    assert checks["ncentral"]["status"] == "skip"
    assert checks["ncentral"]["detail"] == "not configured (HUB_NCENTRAL__BASE_URL, HUB_NCENTRAL__JWT not set)"
    assert checks["mapping autotask"]["status"] == "ok"
    assert checks["workflow new-breakfix-customer"]["status"] == "ok"

    monkeypatch.setenv("HUB_ITGLUE__API_KEY", "ITG.wrong")
    monkeypatch.setenv("HUB_CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    code, report, _ = cli_json(capsys, "doctor")
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 2 and report["ok"] is False
    assert (checks["itglue"]["status"], checks["itglue"]["failure"]) == ("fail", "config")
    assert checks["broker"]["status"] == "warn"
    code, out, _ = run_cli(["doctor"], capsys)
    assert code == 2 and "1 check(s) failed" in out and "itglue" in out
