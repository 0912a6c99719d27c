"""The command line's promises: exit codes, one JSON object under --json, help, completion,
names in filters checked, dead letters, runs, audit and state from the store."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from hub.app import Hub
from hub.settings import load_settings
from hub.state.store import StateStore
from tests.core.fakes import run_cli


def _store() -> StateStore:
    return StateStore.open(load_settings().state_url)


def test_help_shows_no_type_after_a_flag(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    for argv in (["sync", "--help"], ["doctor", "--help"], ["--help"]):
        code, out, _ = run_cli(argv, capsys)
        assert code == 0
        assert "<bool>" not in out, out
    code, out, _ = run_cli(["sync", "--help"], capsys)
    assert "--json" in out and "--all" in out and "--select" in out


def test_shell_completion_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--show-completion", "bash"], capsys)
    assert code == 0
    assert "_HUB_COMPLETE" in out and "complete" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sync", "nosuchjob", "--json"], "unknown sync job 'nosuchjob'"),
        (["sync", "--json"], "give one job name or --all"),
        (["sync", "--all", "--select", "Contacts", "--json"], "--select needs one job"),
        (["sync", "psa-to-docs", "--select", "nosuch", "--json"], "--select nosuch: job psa-to-docs reads no such"),
        (["deadletters", "--job", "nosuchjob", "--json"], "unknown sync job 'nosuchjob'"),
        (["deadletters", "retry", "--job", "nosuchjob", "--json"], "unknown sync job 'nosuchjob'"),
        (["workflow", "list", "--workflow", "nosuch", "--json"], "unknown workflow 'nosuch'"),
        (["runs", "--job", "nosuchjob", "--json"], "unknown sync job 'nosuchjob'"),
        (["runs", "show", "abcd", "--json"], "no sync run 'abcd'"),
        (["runs", "show", "ab", "--json"], "at least its first 4 characters"),
        (["audit", "--system", "nosuch", "--json"], "--system nosuch: no such connector"),
        (["state", "list", "--job", "nosuchjob", "--json"], "unknown sync job 'nosuchjob'"),
        (["state", "reset", "nosuchjob", "--json"], "unknown sync job 'nosuchjob'"),
        (["state", "reset", "psa-to-docs", "--stream", "nosuch", "--json"], "--stream nosuch: job psa-to-docs"),
        (["deadletters", "show", "999", "--json"], "no dead letter 999"),
        (["sync", "--bogus-option", "--json"], "No such option: --bogus-option"),
    ],
)
def test_bad_input_is_exit_2_and_one_json_object(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run_cli(argv, capsys)
    assert code == 2, err
    body = json.loads(out)  # exactly one JSON document
    assert body["status"] == "error" and body["exit_code"] == 2
    assert expected in body["error"]
    assert expected in err


def test_bad_input_without_json_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["deadletters", "--job", "nosuchjob"], capsys)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "hub: unknown sync job 'nosuchjob'; jobs: accounting-recipients, psa-to-docs, rmm-alerts, rmm-devices"
    ]


def test_a_sync_refused_because_one_runs_prints_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    store = _store()
    hub = Hub(load_settings(), store=store)
    try:
        # the refusal comes before any connector is used: settings need not be complete
        with store.lock("sync:psa-to-docs"):
            code, out, err = run_cli(["state", "reset", "psa-to-docs", "--json"], capsys)
    finally:
        hub.close()
    assert code == 1
    body = json.loads(out)
    assert body["status"] == "refused" and "psa-to-docs is already running" in body["error"]
    assert len(err.strip().splitlines()) == 1


def _dead_letter(store: StateStore) -> int:
    with store.transaction() as conn:
        store.dead_letter(conn, job="psa-to-docs", system="itglue", kind="organization", record_id="29683490",
                          operation="write", record={"source": "autotask", "stream": "Companies",
                                                     "core": {"name": "Acme Dental"}},
                          error="itglue: request refused (HTTP 422): Name has already been taken")  # fmt: skip
    (letter,) = store.dead_letters("psa-to-docs")
    return letter.id


def test_dead_letters_show_and_discard(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    store = _store()
    letter_id = _dead_letter(store)
    code, out, _ = run_cli(["deadletters", "--json"], capsys)
    assert code == 0 and [r["id"] for r in json.loads(out)] == [letter_id]
    code, out, _ = run_cli(["deadletters", "show", str(letter_id), "--json"], capsys)
    shown = json.loads(out)
    assert code == 0 and shown["record"]["core"]["name"] == "Acme Dental" and shown["resolved_at"] is None
    code, out, _ = run_cli(["deadletters", "show", str(letter_id)], capsys)
    assert code == 0 and "Name has already been taken" in out and '"Acme Dental"' in out

    code, out, _ = run_cli(["deadletters", "discard", str(letter_id), "--json"], capsys)
    assert code == 0 and json.loads(out) == {"id": letter_id, "discarded": True}
    assert store.dead_letters("psa-to-docs") == []  # no longer listed, no longer retried
    code, out, _ = run_cli(["deadletters", "discard", str(letter_id)], capsys)
    assert code == 0 and "already resolved" in out
    code, out, _ = run_cli(["audit", "--record", "29683490", "--json"], capsys)
    (row,) = json.loads(out)
    assert row["operation"] == "discard" and row["actor"].startswith("cli:")
    assert row["before"]["dead_letter"] == letter_id
    code, out, _ = run_cli(["deadletters", "show", str(letter_id), "--json"], capsys)
    assert json.loads(out)["resolved_at"] is not None
    store.close()


def test_runs_and_audit_from_the_store(capsys: pytest.CaptureFixture[str]) -> None:
    store = _store()
    run_id = store.start_run("psa-to-docs", "sync")
    with store.transaction() as conn:
        store.audit(conn, actor="sync:psa-to-docs", system="itglue", entity="organizations", operation="create",
                    record_id="7", before=None, after={"name": "Acme"}, run_id=run_id)  # fmt: skip
    store.finish_run(run_id, "ok", {"job": "psa-to-docs", "status": "ok", "read": 3, "created": 1})
    other = store.start_run("rmm-devices", "sync")
    store.finish_run(other, "failed", {"job": "rmm-devices", "status": "failed", "error": "ncentral: down"})
    code, out, _ = run_cli(["runs", "--json"], capsys)
    assert code == 0 and [r["id"] for r in json.loads(out)] == [other, run_id]
    code, out, _ = run_cli(["runs", "--job", "psa-to-docs", "--json"], capsys)
    (row,) = json.loads(out)
    assert (row["status"], row["summary"]["created"]) == ("ok", 1) and row["duration_s"] is not None
    code, out, _ = run_cli(["runs", "show", run_id[:6], "--json"], capsys)
    assert code == 0 and json.loads(out)["writes"] == 1
    code, out, _ = run_cli(["runs", "show", other[:8]], capsys)
    assert code == 0 and "error: ncentral: down" in out
    code, out, _ = run_cli(["audit", "--run", run_id[:8], "--json"], capsys)
    (audited,) = json.loads(out)
    assert audited["after"] == {"name": "Acme"} and audited["run_id"] == run_id
    code, out, _ = run_cli(["audit", "--system", "autotask", "--json"], capsys)
    assert json.loads(out) == []
    store.close()


def test_state_list_and_reset(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.state.store import CursorState

    store = _store()
    with store.transaction() as conn:
        store.save_cursor(conn, "psa-to-docs", "autotask", "Companies", CursorState("2026-11-01T00:00:00+00:00"))
        store.save_cursor(conn, "psa-to-docs", "autotask", "Contacts", CursorState(None, [], {"token": 2}))
    code, out, _ = run_cli(["state", "list", "--json"], capsys)
    rows = json.loads(out)
    assert [(r["stream"], r["in_progress"]) for r in rows] == [("Companies", False), ("Contacts", True)]
    code, out, _ = run_cli(["state", "reset", "psa-to-docs", "--stream", "autotask.Contacts", "--json"], capsys)
    assert code == 0 and json.loads(out) == {"job": "psa-to-docs", "reset": 1, "streams": ["autotask.Contacts"]}
    assert [r["stream"] for r in store.cursors()] == ["Companies"]
    code, out, _ = run_cli(["state", "reset", "psa-to-docs"], capsys)
    assert code == 0 and "1 cursor(s) dropped (every stream)" in out
    assert store.cursors() == []
    store.close()


def test_serve_on_a_busy_port_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run_cli(["serve", "--port", str(port)], capsys)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        f"hub: --port {port}: 127.0.0.1:{port} is already in use (another hub serve?); choose another port"
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("notaurl", "hub: HUB_CELERY_BROKER_URL: not a broker URL: 'notaurl' (e.g. redis://127.0.0.1:6379/0)"),
        ("redis://127.0.0.1:{port}/0", "hub: HUB_CELERY_BROKER_URL: cannot reach redis://127.0.0.1:{port}/0"),
    ],
)
def test_worker_with_a_bad_or_unreachable_broker_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed again below: nothing listens there
    monkeypatch.setenv("HUB_CELERY_BROKER_URL", url.format(port=port))
    code, out, err = run_cli(["worker"], capsys)
    assert (code, out) == (2, "")
    (line,) = err.strip().splitlines()
    assert line.startswith(expected.format(port=port))


def test_library_lines_go_through_the_hubs_logging(tmp_path: Path) -> None:
    import io
    import logging

    from hub.logging import configure_logging

    stream = io.StringIO()
    uvicorn_error = logging.getLogger("uvicorn.error")
    level = uvicorn_error.level  # a served simulator set it to WARNING earlier in the session
    uvicorn_error.setLevel(logging.NOTSET)
    try:
        configure_logging(json=True, level="INFO", stream=stream)
        uvicorn_error.info("Uvicorn running on http://127.0.0.1:8080")
        logging.getLogger("celery.worker.consumer").warning("consumer: connection to broker lost")
        logging.getLogger("httpx").warning("not routed: no library but these")
    finally:
        configure_logging(level="WARNING")
        uvicorn_error.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["logger"], x["level"]) for x in lines] == [("uvicorn.error", "info"), ("celery.worker.consumer",
                                                                                       "warning")]  # fmt: skip
    assert lines[0]["event"] == "Uvicorn running on http://127.0.0.1:8080"


def test_celerys_banner_is_one_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from hub.cli.serve import _log_banner
    from hub.logging import configure_logging

    class Worker:
        def startup_info(self, artlines: bool = True) -> str:
            return "celery@host v5\n\n[config]\n.> transport: redis://127.0.0.1:6379/0\n"

    stream = io.StringIO()
    try:
        configure_logging(json=True, level="INFO", stream=stream)
        _log_banner("celery@host", Worker())
    finally:
        configure_logging(level="WARNING")
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["event"] == "celery.worker"
    assert line["banner"] == ["celery@host v5", "[config]", ".> transport: redis://127.0.0.1:6379/0"]
    assert capsys.readouterr().out == ""


def test_ctrl_c_in_any_command_still_prints_one_object(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.cli import core

    def interrupted() -> list[dict[str, object]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(core, "connector_rows", interrupted)
    code, out, _ = run_cli(["connectors", "--json"], capsys)
    assert code == 130
    assert json.loads(out) == {"status": "interrupted", "error": "interrupted", "exit_code": 130}
