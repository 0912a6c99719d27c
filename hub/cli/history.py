"""``hub runs [show]``, ``hub audit``, ``hub state list|reset``: what the syncs did, and where they stand.

Names in filters are checked (an unknown job or connector is exit 2 naming the known
ones), so a typo never reads as "nothing happened". Runs are named by id or by a unique
prefix of at least four characters, as ``hub workflow`` runs are.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli.common import app, emit_json, get_hub, stdout
from hub.errors import ConfigError
from hub.sync import get_job

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")]

runs_app = typer.Typer(help="Sync run history with summaries.", invoke_without_command=True)
state_app = typer.Typer(help="Where each sync job's reads stand (cursors): see and reset them.", no_args_is_help=True)

__all__ = ["register"]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _run_row(row: dict[str, Any]) -> dict[str, Any]:
    summary = row.get("summary") or {}
    started, finished = row["started_at"], row["finished_at"]
    return {
        "id": row["id"],
        "job": row["job"],
        "kind": row["kind"],
        "status": row["status"],
        "dry_run": bool(row["dry_run"]),
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "duration_s": round((finished - started).total_seconds(), 3) if finished else None,
        "summary": summary,
    }


def _check_job(name: str | None) -> None:
    if name is not None:
        get_job(get_hub(), name)


def _check_system(name: str | None) -> None:
    known = get_hub().plugins.connector_classes()
    if name is not None and name not in known:
        raise ConfigError(f"--system {name}: no such connector; connectors: {', '.join(sorted(known))}")


def _resolve_run(ref: str) -> dict[str, Any]:
    """The sync run ``ref`` names (its id, or a unique prefix of at least 4 characters)."""
    if len(ref) < 4:
        raise ConfigError(f"run {ref!r}: give the run id or at least its first 4 characters")
    found = get_hub().store.runs_starting(ref)
    if not found:
        raise ConfigError(f"no sync run {ref!r}; `hub runs` lists them")
    if len(found) > 1:
        raise ConfigError(f"run {ref!r} is ambiguous: give more of the id")
    return found[0]


@runs_app.callback()
def runs(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", help="Only this job's runs.")] = None,
    limit: LimitOpt = 20,
    json: JsonOpt = False,
) -> None:
    """Sync runs, newest first: status, counts and duration."""
    if ctx.invoked_subcommand is not None:
        return
    _check_job(job)
    rows = [_run_row(r) for r in get_hub().store.recent_runs(job, limit)]
    if json:
        emit_json(rows)
        return
    if not rows:
        stdout.print("no sync runs yet")
        return
    table = Table(title="sync runs (newest first)")
    for col in ("run", "job", "kind", "status", "started (UTC)", "s", "read", "created", "updated", "failed"):
        table.add_column(col)
    for row in rows:
        s = row["summary"]
        table.add_row(
            row["id"][:8], escape(row["job"]), row["kind"], row["status"] + (" (dry run)" if row["dry_run"] else ""),
            (row["started_at"] or "")[:19], str(row["duration_s"] if row["duration_s"] is not None else ""),
            *(str(s.get(k, "")) for k in ("read", "created", "updated", "failed")),
        )  # fmt: skip
    stdout.print(table)


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(metavar="RUN", help="run id, or a unique prefix of at least 4 characters")],
    json: JsonOpt = False,
) -> None:
    """One run in full: its summary, its error, and how many writes it made (see `hub audit --run`)."""
    row = _run_row(_resolve_run(run))
    row["writes"] = get_hub().store.audit_count(row["id"])
    if json:
        emit_json(row)
        return
    say = stdout.print
    say(f"run {row['id']}  {row['job']}  {row['kind']}  {row['status']}" + ("  (dry run)" if row["dry_run"] else ""),
        markup=False, highlight=False)  # fmt: skip
    say(f"started {row['started_at']}, finished {row['finished_at'] or '-'}"
        + (f" ({row['duration_s']} s)" if row["duration_s"] is not None else ""), markup=False, highlight=False)
    summary = row["summary"]
    counts = ", ".join(f"{k} {summary[k]}" for k in ("read", "created", "updated", "unchanged", "conflicts",
                                                      "failed", "deactivated", "skipped") if k in summary)  # fmt: skip
    if counts:
        say(counts, markup=False, highlight=False)
    calls = summary.get("api_calls") or {}
    if calls:
        say("API calls: " + ", ".join(f"{k} {v}" for k, v in calls.items()), markup=False, highlight=False)
    say(f"writes audited: {row['writes']} (hub audit --run {row['id'][:8]})", markup=False, highlight=False)
    for line in summary.get("reports", []):
        say(f"report: {line}", markup=False, highlight=False)
    if summary.get("error"):
        say(f"error: {summary['error']}", markup=False, highlight=False)


def audit(
    record: Annotated[str | None, typer.Option("--record", help="Only writes to this record id.")] = None,
    system: Annotated[str | None, typer.Option("--system", help="Only writes to this connector's system.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run's writes (id or 4+ characters).")] = None,
    limit: LimitOpt = 50,
    json: JsonOpt = False,
) -> None:
    """The audit log of every write (who, what, before, after), newest first."""
    _check_system(system)
    run_id = None
    if run is not None:
        run_id = run if len(run) == 36 else _resolve_run(run)["id"]
    rows = get_hub().store.audit_search(record_id=record, system=system, run_id=run_id, limit=limit)
    out = [{**r, "at": _iso(r["at"])} for r in rows]
    if json:
        emit_json(out)
        return
    if not out:
        stdout.print("no audited writes match")
        return
    table = Table(title="audit log (newest first)")
    for col in ("at (UTC)", "actor", "system", "entity", "record", "operation", "changed"):
        table.add_column(col)
    for r in out:
        changed = ", ".join(sorted((r["after"] or {}).keys())) if isinstance(r["after"], dict) else ""
        table.add_row(*(escape(str(x or "")) for x in (
            (r["at"] or "")[:19], r["actor"], r["system"], r["entity"], r["record_id"], r["operation"], changed)))
    stdout.print(table)


@state_app.command("list")
def state_list(
    job: Annotated[str | None, typer.Option("--job", help="Only this job's.")] = None,
    json: JsonOpt = False,
) -> None:
    """Every saved cursor: the job, the stream it reads, how far it has read, and a read in progress."""
    _check_job(job)
    rows = [
        {"job": r["job"], "connector": r["connector"], "stream": r["stream"], "cursor": r["cursor"],
         "boundary_ids": len(r["boundary_ids"] or []), "in_progress": bool(r["resume"]),
         "updated_at": _iso(r["updated_at"])}
        for r in get_hub().store.cursors(job)
    ]  # fmt: skip
    if json:
        emit_json(rows)
        return
    if not rows:
        stdout.print("no cursors saved: every job's next run reads everything")
        return
    table = Table(title="sync state")
    for col in ("job", "stream", "changes read up to", "read in progress", "saved (UTC)"):
        table.add_column(col)
    for r in rows:
        table.add_row(escape(r["job"]), escape(f"{r['connector']}.{r['stream']}"), r["cursor"] or "(full read)",
                      "yes, resumes" if r["in_progress"] else "", (r["updated_at"] or "")[:19])  # fmt: skip
    stdout.print(table)


@state_app.command("reset")
def state_reset(
    job: Annotated[str, typer.Argument(metavar="JOB", help="the job whose cursors to drop")],
    stream: Annotated[
        list[str] | None, typer.Option("--stream", help="Only this stream (stream or connector.stream; repeat).")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Drop a job's cursors: its next run reads everything again (unchanged records still cost no write)."""
    hub = get_hub()
    definition = get_job(hub, job)
    pairs: list[tuple[str, str]] | None = None
    if stream:
        known = {name: (c, s) for c, s in definition.sources for name in (s, f"{c}.{s}")}
        unknown = [s for s in stream if s not in known]
        if unknown:
            listed = ", ".join(f"{c}.{s}" for c, s in definition.sources)
            raise ConfigError(f"--stream {unknown[0]}: job {job} reads no such stream; its streams: {listed}")
        pairs = sorted({known[s] for s in stream})
    with hub.store.lock(f"sync:{job}"):  # never under a running sync's feet
        dropped = hub.store.reset_cursors(job, pairs)
    if json:
        emit_json({"job": job, "reset": dropped, "streams": [f"{c}.{s}" for c, s in pairs] if pairs else None})
        return
    which = ", ".join(f"{c}.{s}" for c, s in pairs) if pairs else "every stream"
    stdout.print(f"{job}: {dropped} cursor(s) dropped ({which}); the next run reads everything again",
                 markup=False, highlight=False)  # fmt: skip


def register() -> None:
    app.add_typer(runs_app, name="runs")
    app.command("audit")(audit)
    app.add_typer(state_app, name="state")
