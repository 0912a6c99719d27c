"""Workflows: runs (filtered by workflow, status, customer), a run's checklist, steps a person confirms.

Everything goes through the engine's public entry points, as ``hub workflow`` does:
``start``, ``confirm``, ``resume`` and ``cancel`` (with the person as ``actor``, so the
audit log names them), the definitions and their declared inputs, and the checklist
report of :mod:`hub.workflow.report`. A manual step's form is built from the fields
its waiting row declares and checked like ``--set`` values are.

Starting, confirming and resuming advance the run until it waits again; the page is
answered when that is done or after ``Console.action_wait`` seconds, whichever is
first, and the run's page follows the rest live.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, Response
from starlette.routing import Route

from hub.errors import ConfigError
from hub.logging import get_logger
from hub.web.accounts import Role
from hub.web.app import Console, Ctx, action, page
from hub.web.forms import fields_for, parse_specs, validate
from hub.workflow import RunStatus, WorkflowEngine
from hub.workflow.definition import InputSpec
from hub.workflow.report import ChecklistItem, checklist, run_summary

__all__ = ["routes", "waiting_on_people"]

log = get_logger("hub.web")

#: the checklist's marks, as ``hub workflow status`` prints them
MARKS = {
    "done": "✓",
    "skipped": "-",
    "not_taken": "-",
    "timed_out": "✓",
    "waiting": "…",
    "running": "▶",
    "failed": "✗",
    "cancelled": "✗",
    "next": "○",
    "pending": "○",
}
#: how many recent runs the customer filter looks through
CUSTOMER_SCAN = 1000


def waiting_on_people(engine: WorkflowEngine) -> list[dict[str, Any]]:
    """Manual steps waiting on a person, oldest first."""
    rows = []
    for run, step in engine.runs.waiting_steps():
        waiting_on = step.waiting_on or {}
        if waiting_on.get("type") != "manual":
            continue
        rows.append(
            {
                "run": run,
                "step": step,
                "customer": _customer(run.inputs),
                "instructions": waiting_on.get("instructions", ""),
                "since": step.started_at,
            }
        )
    return sorted(rows, key=lambda r: r["since"] or r["run"].created_at)


def _customer(inputs: dict[str, Any]) -> str:
    for key in ("name", "customer_name", "company", "organization", "account"):
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _log_failure(future: Future[Any]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("console workflow action failed", error=f"{type(exc).__name__}: {exc}")


def routes(console: Console) -> list[Route]:
    hub = console.hub

    def engine(on_step: Any = None) -> WorkflowEngine:
        return WorkflowEngine(hub, on_step=on_step)

    def definitions() -> list[dict[str, Any]]:
        out = []
        lib = engine().library
        for name in sorted(lib.sources()):
            try:
                d = lib.get(name)
                out.append({"name": name, "title": d.title or name, "description": d.description, "error": None})
            except ConfigError as exc:
                out.append({"name": name, "title": name, "description": "", "error": str(exc)})
        return out

    def index(ctx: Ctx) -> Response:
        status, workflow, customer = ctx.query("status"), ctx.query("workflow"), ctx.query("customer")
        if status and status not in {s.value for s in RunStatus}:
            raise ConfigError(f"status must be one of {', '.join(s.value for s in RunStatus)}")
        eng = engine()
        limit = CUSTOMER_SCAN if customer else 100
        runs = eng.runs.recent(status=status or None, workflow=workflow or None, limit=limit)
        if customer:
            needle = customer.lower()
            runs = [r for r in runs if any(needle in str(v).lower() for v in r.inputs.values())][:100]
        rows = [{**run_summary(r), "customer": _customer(r.inputs)} for r in runs]
        return console.render(
            ctx, ctx.request, "workflows.html", runs=rows, people=waiting_on_people(eng),
            definitions=definitions(), statuses=[s.value for s in RunStatus],
            filters={"status": status, "workflow": workflow, "customer": customer},
        )  # fmt: skip

    # -- starting ------------------------------------------------------------------

    def start_form(ctx: Ctx, status: int = 200, errors: dict[str, str] | None = None,
                   error: str | None = None) -> Response:  # fmt: skip
        definition = engine().library.get(ctx.param("name"))
        fields = fields_for(definition.inputs, ctx.form if ctx.form else None, errors)
        return console.render(ctx, ctx.request, "workflow_start.html", status=status, definition=definition,
                              fields=fields, error=error)  # fmt: skip

    def start(ctx: Ctx) -> Response:
        name = ctx.param("name")
        definition = engine().library.get(name)
        values, errors = validate(definition.inputs, ctx.form)
        if errors:
            return start_form(ctx, 400, errors, "Some values need fixing (see below).")
        started = threading.Event()
        first: dict[str, str] = {}

        def on_step(run_id: str, *_: Any) -> None:
            first.setdefault("run", run_id)
            started.set()

        eng = engine(on_step)
        future = console.tasks.call(lambda: eng.start(name, values, actor=ctx.principal.actor),
                                    console.action_wait, started=started)  # fmt: skip
        failure = future.exception() if future.done() else None
        if isinstance(failure, ConfigError):
            return start_form(ctx, 400, None, str(failure))
        future.add_done_callback(_log_failure)
        run_id = future.result() if future.done() and failure is None else first.get("run")
        if run_id is None and failure is not None:
            return start_form(ctx, 500, None, f"{name} could not start: {str(failure).splitlines()[0]}")
        if run_id is None:
            return console.redirect(ctx.request, "/workflows", f"{name} is starting; it appears below in a moment")
        return console.redirect(ctx.request, f"/workflows/runs/{run_id}", f"{name} started")

    # -- one run -------------------------------------------------------------------

    def load(run_id: str) -> tuple[WorkflowEngine, Any, list[ChecklistItem]]:
        eng = engine()
        run = eng.runs.get(run_id)
        items = checklist(eng.definition(run), run, eng.runs.steps(run_id))
        return eng, run, items

    def signature(run: Any, items: list[ChecklistItem]) -> str:
        """What changes when the page would: the run's status and every step's state."""
        return f"{run.status.value}|{run.current_step}|" + ",".join(f"{i.id}:{i.state}" for i in items)

    def forms(items: list[ChecklistItem], given: dict[str, str] | None, errors: dict[str, str] | None,
              failed_step: str | None) -> list[dict[str, Any]]:  # fmt: skip
        """A confirm form for every step waiting (on a person, or an event a person may end by hand)."""
        out = []
        for item in items:
            if item.state != "waiting":
                continue
            waiting_on = item.waiting_on or {}
            manual = waiting_on.get("type") == "manual"
            specs: dict[str, InputSpec] = parse_specs(waiting_on.get("fields") or {}) if manual else {}
            mine = item.id == failed_step
            out.append({
                "item": item,
                "manual": manual,
                "instructions": waiting_on.get("instructions", "") if manual else item.detail,
                "fields": fields_for(specs, given if mine else None, errors if mine else None),
                "note": (given or {}).get("note", "") if mine else "",
            })  # fmt: skip
        return out

    def files(items: list[ChecklistItem]) -> list[dict[str, str]]:
        """Files the run's steps saved (a signed PDF in the client folder), to open from the page."""
        found = []
        for item in items:
            outputs = item.outputs if isinstance(item.outputs, dict) else {}
            path = outputs.get("path")
            if item.state == "done" and isinstance(path, str) and path:
                found.append({"step": item.id, "title": item.title, "name": Path(path).name})
        return found

    def run_page(ctx: Ctx, status: int = 200, errors: dict[str, str] | None = None,
                 failed_step: str | None = None) -> Response:  # fmt: skip
        _eng, run, items = load(ctx.param("run_id"))
        return console.render(
            ctx, ctx.request, "workflow_run.html", status=status, run=run, items=items, marks=MARKS,
            forms=forms(items, ctx.form, errors, failed_step), files=files(items),
            signature=signature(run, items), customer=_customer(run.inputs),
            live=run.status in (RunStatus.running, RunStatus.waiting),
        )  # fmt: skip

    def changed(ctx: Ctx) -> Response:
        """For the run page's live refresh: 204 while nothing changed, else a reload."""
        _eng, run, items = load(ctx.param("run_id"))
        if signature(run, items) == ctx.query("sig"):
            return Response(status_code=204)
        return Response(status_code=204, headers={"HX-Refresh": "true"})

    def confirm(ctx: Ctx) -> Response:
        run_id, step_id = ctx.param("run_id"), ctx.param("step")
        _eng, _run, items = load(run_id)
        item = next((i for i in items if i.id == step_id), None)
        if item is None or item.state not in ("waiting", "failed"):
            raise ConfigError(f"step {step_id} is not waiting any more; nothing to confirm")
        waiting_on = item.waiting_on or {}
        specs = parse_specs(waiting_on.get("fields") or {}) if waiting_on.get("type") == "manual" else {}
        values, errors = validate(specs, ctx.form)
        if errors:
            return run_page(ctx, 400, errors, step_id)
        note = ctx.form.get("note", "").strip() or None
        if waiting_on.get("type") != "manual" and note is None:
            raise ConfigError(f"{item.title}: say what happened (for the audit log) to end the wait by hand")
        eng = engine()
        future = console.tasks.call(
            lambda: eng.confirm(run_id, step_id, note=note, values=values, actor=ctx.principal.actor),
            console.action_wait,
        )
        if future.done() and isinstance(future.exception(), ConfigError):
            raise ConfigError(str(future.exception()))
        future.add_done_callback(_log_failure)
        return console.redirect(ctx.request, f"/workflows/runs/{run_id}", f"{item.title}: confirmed")

    def resume(ctx: Ctx) -> Response:
        run_id = ctx.param("run_id")
        eng = engine()
        future = console.tasks.call(lambda: eng.resume(run_id, actor=ctx.principal.actor), console.action_wait)
        if future.done() and isinstance(future.exception(), ConfigError):
            raise ConfigError(str(future.exception()))
        future.add_done_callback(_log_failure)
        return console.redirect(ctx.request, f"/workflows/runs/{run_id}", "run resumed")

    def cancel(ctx: Ctx) -> Response:
        run_id = ctx.param("run_id")
        engine().cancel(run_id, ctx.form.get("reason", "").strip() or None, actor=ctx.principal.actor)
        return console.redirect(ctx.request, f"/workflows/runs/{run_id}", "run cancelled")

    def download(ctx: Ctx) -> Response:
        """A file a step saved, only from inside the documents root (never a path from elsewhere)."""
        _eng, _run, items = load(ctx.param("run_id"))
        item = next((i for i in items if i.id == ctx.param("step") and i.state == "done"), None)
        outputs = item.outputs if item is not None and isinstance(item.outputs, dict) else {}
        root = Path(hub.settings.documents_root).resolve()
        path = Path(str(outputs.get("path", ""))).resolve() if outputs.get("path") else None
        if path is None or not path.is_relative_to(root) or not path.is_file():
            return console.render(ctx, ctx.request, "error.html", 404, title="No such file",
                                  message="the step saved no file, or it was moved")  # fmt: skip
        return FileResponse(path, filename=path.name, content_disposition_type="inline")

    return [
        Route("/workflows", page(console, index)),
        Route("/workflows/start/{name}", page(console, start_form)),
        Route("/workflows/start/{name}", action(console, start, Role.operator), methods=["POST"]),
        Route("/workflows/runs/{run_id}", page(console, run_page)),
        Route("/workflows/runs/{run_id}/changed", page(console, changed)),
        Route("/workflows/runs/{run_id}/files/{step}", page(console, download)),
        Route("/workflows/runs/{run_id}/steps/{step}/confirm", action(console, confirm, Role.operator),
              methods=["POST"]),
        Route("/workflows/runs/{run_id}/resume", action(console, resume, Role.operator), methods=["POST"]),
        Route("/workflows/runs/{run_id}/cancel", action(console, cancel, Role.operator), methods=["POST"]),
    ]
