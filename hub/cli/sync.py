"""``hub sync JOB|--all``, ``hub jobs``, ``hub deadletters [retry|show|discard]``."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli.common import app, emit_json, get_hub, stderr, stdout
from hub.cli.progress import SyncDisplay, show_interrupted
from hub.errors import ConfigError, FailureType
from hub.settings import MissingSettings, configured
from hub.sync import get_job, retry_dead_letters, run_job
from hub.sync.engine import Part, SyncInterrupted

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
deadletters_app = typer.Typer(help="Records that failed to sync, with the reason.", invoke_without_command=True)

#: how bad each status is: the status of several runs together is that of the worst one
_SEVERITY = {"failed": 3, "partial": 2, "skipped": 1, "ok": 0}


def _exit_code(summary: dict[str, Any]) -> int:
    """0 ok, 2 when the run stopped on configuration (a refused credential), else 1."""
    if summary["status"] == "ok":
        return 0
    return 2 if summary.get("error_type") == FailureType.config.value else 1


def sync(
    job: Annotated[str | None, typer.Argument(help="job name, e.g. psa-to-docs (or --all)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every job whose connectors are configured.")] = False,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", help="Only the steps reading this stream (stream or connector.stream; repeat).",
                     metavar="STREAM"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; write nothing, move no cursor.")] = False,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Read everything, not only changes.")] = False,
    allow_mass_deactivate: Annotated[
        bool, typer.Option("--allow-mass-deactivate", help="Allow deactivating more than the guard's share.")
    ] = False,
    part: Annotated[
        str | None,
        typer.Option("--part", metavar="I/N",
                     help="Only part I of N (the job split across processes: run each part once, at once)."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Run a sync job (or --all). Ctrl-C stops it; a rerun resumes.

    Exit 0 ok, 1 partial (records dead-lettered) or failed, 2 configuration (also a
    credential the vendor refuses).
    """
    if (job is None) == (not all_):
        raise ConfigError("give one job name or --all (`hub jobs` lists them)")
    if all_ and select:
        raise ConfigError("--select needs one job: the stream names belong to a job")
    if all_ and part:
        raise ConfigError("--part needs one job: each job is split on its own")
    options: dict[str, Any] = {
        "dry_run": dry_run, "full_refresh": full_refresh, "allow_mass_deactivate": allow_mass_deactivate,
    }  # fmt: skip
    if part is not None:
        options["part"] = Part.parse(part)
    if job is not None:
        summary = _run(job, options, json, select)
        _show(summary, json)
        raise typer.Exit(_exit_code(summary))
    summaries = [_run_or_skip(name, options, json) for name in sorted(get_hub().plugins.jobs())]
    ran = [s for s in summaries if s["status"] != "skipped"]
    if not ran:
        raise ConfigError("no job can run: none has all its connectors configured (`hub config show` says what is "
                          "missing)")  # fmt: skip
    status = max((s["status"] for s in summaries), key=lambda st: _SEVERITY.get(st, 3))
    if json:
        emit_json({"status": status if status != "skipped" else "ok", "jobs": summaries})
    else:
        for summary in summaries:
            if summary["status"] == "skipped":
                stdout.print(f"{summary['job']}: skipped - {summary['reason']}", markup=False, highlight=False)
            else:
                _print_summary(summary)
    raise typer.Exit(max((_exit_code(s) for s in ran), default=0))


def _run_or_skip(name: str, options: dict[str, Any], json: bool) -> dict[str, Any]:
    """Run one job of ``--all``; a job whose connectors nobody configured is skipped (one
    partly configured is a configuration error, exit 2, like a single job's)."""
    hub = get_hub()
    unused = [c for c in get_job(hub, name).connectors if not configured(c)]
    if unused:
        try:
            for connector in unused:
                hub.connector(connector)
        except MissingSettings:
            return {"job": name, "status": "skipped", "reason": f"{', '.join(unused)} not configured"}
    return _run(name, options, json, None)


def _run(job: str, options: dict[str, Any], json: bool, select: list[str] | None) -> dict[str, Any]:
    """Run ``job`` with its progress on stderr; Ctrl-C prints the summary so far and exits 130."""
    hub = get_hub()
    get_job(hub, job)
    display = SyncDisplay(hub, job, stderr, live=sys.stderr.isatty())
    try:
        with display:
            return run_job(hub, job, progress=display, select=select, **options)
    except SyncInterrupted as interrupted:
        if json:
            emit_json(interrupted.summary)
        stderr.print(f"hub: {show_interrupted(interrupted.summary)}", markup=False, highlight=False)
        raise typer.Exit(130) from None


def _show(summary: dict[str, Any], json: bool) -> None:
    if json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    plan = summary.get("plan") or []
    if plan:
        table = Table(title=f"{summary['job']}: {'plan (dry run)' if summary['dry_run'] else 'changes'}")
        for col in ("action", "system", "entity", "source", "target", "name", "fields (before -> after)"):
            table.add_column(col)
        for entry in plan:
            after = entry.get("after") or {}
            before = entry.get("before") or {}
            diff = "; ".join(f"{k}: {before.get(k)!r} -> {v!r}" for k, v in after.items()) or entry.get("reason", "")
            table.add_row(*(escape(str(x)) for x in (
                entry["action"], entry["system"], entry["entity"], entry.get("source_id", ""),
                entry.get("target_id", ""), entry.get("name", ""), diff,
            )))  # fmt: skip
        stdout.print(table)
    counts = ", ".join(f"{k} {summary[k]}" for k in ("read", "created", "updated", "unchanged", "conflicts", "failed"))
    calls = ", ".join(f"{k} {v}" for k, v in summary["api_calls"].items())
    stdout.print(f"{summary['job']}: {summary['status']} - {counts}; deactivated {summary.get('deactivated', 0)}; "
                 f"API calls: {calls or 'none'}; {summary['duration_s']} s", markup=False, highlight=False)
    for line in summary.get("reports", []):
        stdout.print(f"report: {line}", markup=False, highlight=False)
    if summary.get("error"):
        stderr.print(f"hub: {summary['error']}", markup=False, highlight=False)


def jobs(json: JsonOpt = False) -> None:
    """The sync jobs this hub can run."""
    rows = [
        {"name": j.name, "description": j.description, "steps": [s.label for s in j.steps]}
        for j in sorted(get_hub().plugins.jobs().values(), key=lambda j: j.name)
    ]
    if json:
        emit_json(rows)
        return
    for row in rows:
        stdout.print(f"{row['name']}: {row['description']}", markup=False, highlight=False)
        for label in row["steps"]:
            stdout.print(f"  {label}", markup=False, highlight=False)


def _letter_row(d: Any) -> dict[str, Any]:
    return {"id": d.id, "job": d.job, "system": d.system, "kind": d.kind, "record_id": d.record_id,
            "operation": d.operation, "error": d.error, "attempts": d.attempts, "first_at": d.first_at.isoformat(),
            "last_at": d.last_at.isoformat()}  # fmt: skip


@deadletters_app.callback()
def deadletters(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", help="Only this job's.")] = None,
    json: JsonOpt = False,
) -> None:
    """List records that failed to sync, with the reason and attempts."""
    if ctx.invoked_subcommand is not None:
        return
    if job is not None:
        get_job(get_hub(), job)
    rows = [_letter_row(d) for d in get_hub().store.dead_letters(job)]
    if json:
        emit_json(rows)
        return
    if not rows:
        stdout.print("no dead letters")
        return
    table = Table(title="dead letters")
    for col in ("id", "job", "system", "kind", "record", "attempts", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(escape(str(r[k])) for k in ("id", "job", "system", "kind", "record_id", "attempts", "error")))
    stdout.print(table)


def _letter(letter_id: int) -> tuple[Any, Any]:
    found = get_hub().store.dead_letter_by_id(letter_id)
    if found is None:
        raise ConfigError(f"no dead letter {letter_id}; `hub deadletters` lists them with their ids")
    return found


@deadletters_app.command("show")
def deadletters_show(
    letter_id: Annotated[int, typer.Argument(metavar="ID", help="the dead letter's id (hub deadletters)")],
    json: JsonOpt = False,
) -> None:
    """One dead letter in full: the record as the hub last saw it, the error, the attempts."""
    letter, resolved_at = _letter(letter_id)
    row = {**_letter_row(letter), "resolved_at": resolved_at.isoformat() if resolved_at else None,
           "record": letter.record}  # fmt: skip
    if json:
        emit_json(row)
        return
    for key in ("id", "job", "system", "kind", "record_id", "operation", "attempts", "first_at", "last_at",
                "resolved_at", "error"):  # fmt: skip
        stdout.print(f"{key}: {row[key] if row[key] is not None else '-'}", markup=False, highlight=False)
    stdout.print("record:", markup=False)
    stdout.print_json(data=letter.record)


@deadletters_app.command("discard")
def deadletters_discard(
    letter_id: Annotated[int, typer.Argument(metavar="ID", help="the dead letter's id (hub deadletters)")],
    json: JsonOpt = False,
) -> None:
    """Stop retrying one dead letter (kept as resolved, and the discard audited)."""
    letter, _ = _letter(letter_id)
    store = get_hub().store
    with store.transaction() as conn:
        discarded = store.discard_dead_letter(conn, letter_id)
        if discarded:
            store.audit(conn, actor=f"cli:{getpass.getuser()}", system=letter.system, entity=letter.kind,
                        operation="discard", record_id=letter.record_id,
                        before={"dead_letter": letter_id, "error": letter.error}, after=None)  # fmt: skip
    if json:
        emit_json({"id": letter_id, "discarded": discarded})
        return
    what = "discarded; it is no longer retried" if discarded else "was already resolved; nothing to do"
    stdout.print(f"dead letter {letter_id} ({letter.job} {letter.system} {letter.record_id}) {what}",
                 markup=False, highlight=False)  # fmt: skip


@deadletters_app.command("retry")
def deadletters_retry(
    job: Annotated[str | None, typer.Option("--job", help="Only this job's.")] = None,
    json: JsonOpt = False,
) -> None:
    """Retry every dead-lettered record; exit 1 if any still fails."""
    if job is not None:
        get_job(get_hub(), job)
    outcome = retry_dead_letters(get_hub(), job)
    if json:
        emit_json(outcome)
    else:
        stdout.print(f"retried {outcome['retried']}: resolved {outcome['resolved']}, still failing "
                     f"{outcome['failed']}, skipped {outcome['skipped']}", markup=False, highlight=False)  # fmt: skip
    if outcome["failed"]:
        raise typer.Exit(1)


def register() -> None:
    app.command("sync")(sync)
    app.command("jobs")(jobs)
    app.add_typer(deadletters_app, name="deadletters")
