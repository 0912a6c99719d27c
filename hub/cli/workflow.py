"""``hub workflow ...``: start, follow and steer workflow runs.

``start``, ``resume`` and ``confirm`` exit 0 when the run completed or waits (for an
event or a person), 1 when it failed, and 2 with one line for bad input (an unknown or
missing ``--set`` value, an unknown workflow or run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from hub.cli import common
from hub.cli.common import app, emit_json, stdout
from hub.errors import ConfigError
from hub.workflow import RunStatus, WorkflowDefinition, WorkflowEngine
from hub.workflow.lint import problems
from hub.workflow.preview import preview
from hub.workflow.report import checklist, run_summary, run_view

workflow_app = typer.Typer(help="Run the MSP's procedures as workflows.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="a value as key=value (repeat for more)", metavar="KEY=VALUE"),
]
RunArg = Annotated[str, typer.Argument(help="run id (or a unique prefix of at least 4 characters)")]

_MARKS = {
    "done": "[x]",
    "skipped": "[-]",
    "not_taken": "[-]",
    "timed_out": "[x]",
    "waiting": "[~]",
    "running": "[>]",
    "failed": "[!]",
    "cancelled": "[c]",
    "next": "[ ]",
    "pending": "[ ]",
}
_STYLES = {"done": "green", "timed_out": "yellow", "waiting": "yellow", "failed": "red", "next": "bold"}


def _engine() -> WorkflowEngine:
    return WorkflowEngine(common.get_hub())


def _pairs(items: list[str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if key.strip() in values:
            raise ConfigError(f"--set {key.strip()} is given twice")
        values[key.strip()] = value
    return values


def _show(engine: WorkflowEngine, run_id: str, as_json: bool) -> RunStatus:
    run = engine.runs.get(run_id)
    definition = engine.definition(run)
    steps = engine.runs.steps(run_id)
    if as_json:
        emit_json(run_view(definition, run, steps))
        return run.status
    style = {"completed": "green", "failed": "red", "waiting": "yellow"}.get(run.status.value, "bold")
    stdout.print(
        f"run [bold]{run.id}[/bold]  {escape(run.workflow)}  [{style}]{run.status.value}[/{style}]"
        f"  (started {run.created_at:%Y-%m-%d %H:%M} UTC)",
        highlight=False,
    )
    for item in checklist(definition, run, steps):
        # marks and details are literal text (details hold customer data): never markup
        mark = escape(_MARKS.get(item.state, "[ ]"))
        colour = _STYLES.get(item.state)
        state = f"[{colour}]{item.state}[/{colour}]" if colour else item.state
        detail = f": {escape(item.detail)}" if item.detail else ""
        stdout.print(f"{'  ' * (item.depth + 1)}{mark} {item.id}  {state}{detail}", highlight=False)
    if run.status is RunStatus.failed and run.error:
        stdout.print(f"failed: {escape(run.error)}", highlight=False)
        stdout.print(f"fix the cause, then: hub workflow resume {run.id}", highlight=False)
    return run.status


def _exit_for(status: RunStatus) -> None:
    if status is RunStatus.failed:
        raise typer.Exit(1)


def start(
    name: Annotated[str, typer.Argument(help="workflow name, e.g. new-breakfix-customer")],
    set_: SetOpt = None,
    json: JsonOpt = False,
) -> None:
    """Start a run of a workflow with its inputs (--set key=value ...)."""
    engine = _engine()
    run_id = engine.start(name, _pairs(set_))
    _exit_for(_show(engine, run_id, json))


_PREVIEW_MARKS = {"write": "[w]", "action": "[a]", "read": "[r]", "unchanged": "[=]", "ask": "[?]", "wait": "[~]",
                  "skip": "[-]", "check": "[c]", "note": "   ", "unknown": "[?]", "stop": "[!]"}  # fmt: skip


def preview_run(
    name: Annotated[str, typer.Argument(help="workflow name, e.g. new-breakfix-customer")],
    set_: SetOpt = None,
    json: JsonOpt = False,
) -> None:
    """Every write a run would make, in every system, before it starts (reads are live).

    Exit 0 when the whole run could be planned, 1 when a check or a read would stop it.
    """
    engine = _engine()
    definition = engine.library.get(name)
    plan = preview(engine.hub, definition, _pairs(set_))
    if json:
        emit_json(plan)
    else:
        stdout.print(
            f"{escape(name)}: {plan['writes']} write(s) in {', '.join(plan['systems']) or 'no system'}"
            + ("" if plan["complete"] else " before the run would stop"),
            highlight=False,
        )
        for item in plan["steps"]:
            stdout.print(f"  {escape(_PREVIEW_MARKS.get(item['what'], '   '))} {item['step']}: "
                         f"{escape(item['detail'])}", highlight=False)  # fmt: skip
            for field, value in (item["changes"] or {}).items():
                stdout.print(f"        {escape(str(field))} = {escape(repr(value))}", highlight=False)
    if not plan["complete"]:
        raise typer.Exit(1)


def status(run: RunArg, json: JsonOpt = False) -> None:
    """A run as a checklist: done, waiting (on what), failed (why), next."""
    engine = _engine()
    _show(engine, engine.runs.resolve(run), json)


def list_runs(
    json: JsonOpt = False,
    status: Annotated[str | None, typer.Option("--status", help="only runs with this status")] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", help="only runs of this workflow")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many, newest first")] = 50,
) -> None:
    """Workflow runs, newest first."""
    if status is not None and status not in {s.value for s in RunStatus}:
        raise ConfigError(f"--status must be one of {', '.join(s.value for s in RunStatus)}")
    engine = _engine()
    if workflow is not None:
        engine.library.path(workflow)  # an unknown name is exit 2 naming the known ones, not an empty list
    rows = [run_summary(r) for r in engine.runs.recent(status=status, workflow=workflow, limit=limit)]
    if json:
        emit_json(rows)
        return
    if not rows:
        stdout.print("no workflow runs")
        return
    for row in rows:
        where = f"  at {row['current_step']}" if row["current_step"] else ""
        error = f"  ({row['error']})" if row["error"] else ""
        stdout.print(
            f"{row['id']}  {row['workflow']}  {row['status']}{where}  {row['created_at'][:16]}{error}",
            highlight=False,
        )


def confirm(
    run: RunArg,
    step: Annotated[str, typer.Argument(help="the step to confirm")],
    note: Annotated[str | None, typer.Option("--note", help="what was done, for the audit log")] = None,
    set_: SetOpt = None,
    json: JsonOpt = False,
) -> None:
    """Confirm a manual step (or end a wait, or settle a failed step) by hand."""
    engine = _engine()
    run_id = engine.runs.resolve(run)
    engine.confirm(run_id, step, note=note, values=_pairs(set_))
    _exit_for(_show(engine, run_id, json))


def resume(run: RunArg, json: JsonOpt = False) -> None:
    """Continue a failed or interrupted run; a failed step runs again with its idempotency key."""
    engine = _engine()
    run_id = engine.runs.resolve(run)
    engine.resume(run_id)
    _exit_for(_show(engine, run_id, json))


def cancel(
    run: RunArg,
    reason: Annotated[str | None, typer.Option("--reason", help="why, for the audit log")] = None,
) -> None:
    """Stop a run for good."""
    engine = _engine()
    run_id = engine.runs.resolve(run)
    engine.cancel(run_id, reason)
    stdout.print(f"run {run_id} cancelled", highlight=False)


def poll(json: JsonOpt = False) -> None:
    """Advance waiting runs: poll vendors without webhooks, time out waits, send reminders.

    Run it from cron where `hub serve` does not run.
    """
    engine = _engine()
    ended = engine.poll()
    advanced = engine.tick()
    if json:
        emit_json({"waits_ended": ended, "runs_advanced": advanced})
        return
    stdout.print(f"{ended} wait(s) ended by polling; {len(advanced)} run(s) advanced by timeouts or recovery")


def validate(
    file: Annotated[Path, typer.Argument(help="a workflow definition (.yaml)", exists=False)],
) -> None:
    """Check a workflow file: schema, expressions, names, sub-workflows and the connectors it uses.

    Prints every problem, one line each: file:line: where (step id): what.
    """
    engine = _engine()
    definition, found = WorkflowDefinition.check(file)
    if definition is not None:
        try:
            engine.library.resolve(engine.library.configure(definition))
        except ConfigError as exc:
            found = [f"{file}: {exc}"]
        else:
            found = problems(definition, engine.hub.plugins, file)
    if found:
        for line in found:
            typer.echo(line, err=True)
        raise typer.Exit(2)
    assert definition is not None
    count = sum(1 for _ in definition.walk())
    stdout.print(f"{file}: ok: workflow {definition.name} ({count} steps)", highlight=False)


def definitions(json: JsonOpt = False) -> None:
    """The workflows this hub can run, where each comes from, and whether it loads.

    A definition that does not load (a broken override) is listed as broken with its
    first problem, and the command exits 2.
    """
    library = _engine().library
    rows: list[dict[str, Any]] = []
    for source in sorted(library.sources().values(), key=lambda s: s.name):
        found = library.check(source)
        rows.append(
            {
                "name": source.name,
                "origin": source.origin,
                "path": str(source.path),
                "overrides": str(source.overrides) if source.overrides else None,
                "status": "broken" if found else "ok",
                "problems": found,
            }
        )
    if json:
        emit_json(rows)
    elif not rows:
        stdout.print("no workflows installed")
    for row in [] if json else rows:
        over = f" (overrides {row['overrides']})" if row["overrides"] else ""
        state = "ok" if not row["problems"] else f"BROKEN: {row['problems'][0]}"
        more = f" (and {len(row['problems']) - 1} more; see hub workflow validate)" if len(row["problems"]) > 1 else ""
        stdout.print(f"{row['name']}  {row['origin']}  {row['path']}{over}  {state}{more}", highlight=False)
    if any(row["problems"] for row in rows):
        raise typer.Exit(2)


def register() -> None:
    workflow_app.command("start")(start)
    workflow_app.command("preview")(preview_run)
    workflow_app.command("status")(status)
    workflow_app.command("list")(list_runs)
    workflow_app.command("confirm")(confirm)
    workflow_app.command("resume")(resume)
    workflow_app.command("cancel")(cancel)
    workflow_app.command("poll")(poll)
    workflow_app.command("validate")(validate)
    workflow_app.command("definitions")(definitions)
    app.add_typer(workflow_app, name="workflow")
