"""``hub sync JOB``, ``hub jobs``, ``hub deadletters [retry]``."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.common import app, emit_json, get_hub, stderr, stdout
from hub.sync import get_job, retry_dead_letters, run_job

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
deadletters_app = typer.Typer(help="Records that failed to sync, with the reason.", invoke_without_command=True)


def sync(
    job: Annotated[str, typer.Argument(help="job name, e.g. psa-to-docs")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; write nothing, move no cursor.")] = False,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Read everything, not only changes.")] = False,
    allow_mass_deactivate: Annotated[
        bool, typer.Option("--allow-mass-deactivate", help="Allow deactivating more than the guard's share.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Run a sync job. Exit 0 ok, 1 partial (records dead-lettered) or failed, 2 configuration."""
    hub = get_hub()
    get_job(hub, job)
    show_progress = not json and sys.stderr.isatty()
    if show_progress:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} read"),
            TimeElapsedColumn(), console=stderr, transient=True,
        ) as bar:  # fmt: skip
            tasks: dict[str, Any] = {}

            def progress(label: str, read: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=None)
                bar.update(tasks[label], completed=read)

            summary = run_job(hub, job, dry_run=dry_run, full_refresh=full_refresh,
                              allow_mass_deactivate=allow_mass_deactivate, progress=progress)  # fmt: skip
    else:
        summary = run_job(hub, job, dry_run=dry_run, full_refresh=full_refresh,
                          allow_mass_deactivate=allow_mass_deactivate)  # fmt: skip
    if json:
        emit_json(summary)
    else:
        _print_summary(summary)
    if summary["status"] != "ok":
        raise typer.Exit(1)


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


@deadletters_app.callback()
def deadletters(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", help="Only this job's.")] = None,
    json: JsonOpt = False,
) -> None:
    """List records that failed to sync, with the reason and attempts."""
    if ctx.invoked_subcommand is not None:
        return
    letters = get_hub().store.dead_letters(job)
    rows = [
        {"job": d.job, "system": d.system, "kind": d.kind, "record_id": d.record_id, "operation": d.operation,
         "error": d.error, "attempts": d.attempts, "first_at": d.first_at.isoformat(), "last_at": d.last_at.isoformat()}
        for d in letters
    ]  # fmt: skip
    if json:
        emit_json(rows)
        return
    if not rows:
        stdout.print("no dead letters")
        return
    table = Table(title="dead letters")
    for col in ("job", "system", "kind", "record", "attempts", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(escape(str(r[k])) for k in ("job", "system", "kind", "record_id", "attempts", "error")))
    stdout.print(table)


@deadletters_app.command("retry")
def deadletters_retry(
    job: Annotated[str | None, typer.Option("--job", help="Only this job's.")] = None,
    json: JsonOpt = False,
) -> None:
    """Retry every dead-lettered record; exit 1 if any still fails."""
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
