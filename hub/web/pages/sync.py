"""Sync: run history, one run's summary and changes field by field, dead letters, Run now / Dry run.

A run started here is :func:`hub.sync.run_job` in a background task, exactly what
``hub sync JOB`` runs, with its progress (records read per step) shown live. The plan
of a dry run started here is kept with the run (at most :data:`PLAN_KEPT` entries), so
its page shows what a real run would change; the changes a real run made are its
audit rows, with each field before and after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from hub.errors import ConfigError
from hub.state import tables as t
from hub.state.audit import AuditQuery, search_audit
from hub.sync import SyncProgress, discard_dead_letters, get_job, retry_dead_letters, run_job
from hub.web.accounts import Role
from hub.web.app import Console, Ctx, action, page
from hub.web.tasks import Task

__all__ = ["routes"]

#: plan entries of a dry run kept for its page
PLAN_KEPT = 1000
PLANS = "sync-plans"


def changes(before: Any, after: Any) -> list[dict[str, Any]]:
    """Field by field: each field of ``after`` (or ``before``) with its old and new value."""
    b = before if isinstance(before, dict) else {}
    a = after if isinstance(after, dict) else {}
    names = list(dict.fromkeys([*a, *b]))
    return [{"field": n, "before": b.get(n), "after": a.get(n)} for n in names if b.get(n) != a.get(n) or n in a]


def routes(console: Console) -> list[Route]:
    hub = console.hub

    def job_rows() -> list[dict[str, Any]]:
        rows = []
        for job in sorted(hub.plugins.jobs().values(), key=lambda j: j.name):
            rows.append(
                {
                    "name": job.name,
                    "description": job.description,
                    "runs": [r for r in hub.store.recent_runs(job.name, limit=5) if r["kind"] == "sync"][:3],
                    "task": next((t for t in console.tasks.recent("sync") if t.label.startswith(f"{job.name} ")), None),
                }
            )
        return rows

    def index(ctx: Ctx) -> Response:
        job = ctx.query("job") or None
        runs = hub.store.recent_runs(job, limit=50)
        letters = hub.store.dead_letters(job)
        return console.render(
            ctx, ctx.request, "sync.html", jobs=job_rows(), runs=runs, letters=letters, job=job or ""
        )

    def run_page(ctx: Ctx) -> Response:
        run_id = ctx.param("run_id")
        with hub.store.engine.connect() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).first()
        run = dict(row._mapping) if row is not None else None
        if run is None:
            return console.render(ctx, ctx.request, "error.html", 404, title="No such run", message=run_id)
        audit = search_audit(hub.store, AuditQuery(run=run_id, limit=500))
        written = [{**row, "changes": changes(row["before"], row["after"])} for row in reversed(audit)]
        plan = hub.store.kv(PLANS).get(run_id) or []
        entries = [{**e, "changes": changes(e.get("before"), e.get("after"))} for e in plan]
        return console.render(ctx, ctx.request, "sync_run.html", run=run, written=written, plan=entries)

    def start(ctx: Ctx) -> Response:
        name = ctx.param("job")
        get_job(hub, name)
        dry_run = ctx.form.get("dry_run") == "1"
        label = f"{name} {'dry run' if dry_run else 'run'}"
        if console.tasks.running("sync", label):
            raise ConfigError(f"{label} is already running")

        def work(task: Task) -> dict[str, Any]:
            def progress(at: SyncProgress) -> None:
                task.progress[at.step] = at.read

            summary = run_job(hub, name, dry_run=dry_run, progress=progress)
            if dry_run and summary.get("run_id"):
                hub.store.kv(PLANS).set(summary["run_id"], (summary.get("plan") or [])[:PLAN_KEPT])
            return {k: v for k, v in summary.items() if k != "plan"}

        console.audit(ctx, "sync.started", system="sync", entity="job", record_id=name, after={"dry_run": dry_run})
        task = console.tasks.start("sync", label, ctx.principal.actor, work)
        return console.redirect(ctx.request, f"/sync#task-{task.id}", f"{label} started")

    def task_fragment(ctx: Ctx) -> Response:
        task = console.tasks.get(int(ctx.param("task_id") or 0))
        if task is None:
            return console.render(ctx, ctx.request, "error.html", 404, title="No such task", message="")
        response = console.render(ctx, ctx.request, "_task.html", task=task)
        if not task.running and ctx.query("live"):
            # the run the page was following ended: reload it, with the new run and dead letters
            response.headers["HX-Refresh"] = "true"
        return response

    def retry(ctx: Ctx) -> Response:
        letter_id = int(ctx.param("letter_id"))
        letter = next((d for d in hub.store.dead_letters() if d.id == letter_id), None)
        if letter is None:
            raise ConfigError("that dead letter is gone (retried or discarded meanwhile)")
        console.audit(ctx, "deadletter.retried", system=letter.system, entity=letter.kind, record_id=letter.record_id,
                      after={"job": letter.job})  # fmt: skip
        outcome = retry_dead_letters(hub, letter.job, ids={letter_id})
        if outcome["resolved"]:
            return console.redirect(ctx.request, "/sync#dead-letters", f"{letter.record_id}: written")
        if outcome["skipped"]:
            return console.redirect(ctx.request, "/sync#dead-letters",
                                    f"{letter.record_id}: this kind of dead letter is retried by the job's next run",
                                    "error")  # fmt: skip
        reason = "; ".join(outcome["errors"]) or "failed again"
        return console.redirect(ctx.request, "/sync#dead-letters", f"{letter.record_id}: {reason}", "error")

    def discard(ctx: Ctx) -> Response:
        count = discard_dead_letters(hub, {int(ctx.param("letter_id"))}, actor=ctx.principal.actor)
        message = "dead letter discarded" if count else "that dead letter is gone (retried or discarded meanwhile)"
        return console.redirect(ctx.request, "/sync#dead-letters", message, "ok" if count else "error")

    return [
        Route("/sync", page(console, index)),
        Route("/sync/runs/{run_id}", page(console, run_page)),
        Route("/sync/tasks/{task_id:int}", page(console, task_fragment)),
        Route("/sync/jobs/{job}/start", action(console, start, Role.operator), methods=["POST"]),
        Route("/sync/deadletters/{letter_id:int}/retry", action(console, retry, Role.operator), methods=["POST"]),
        Route("/sync/deadletters/{letter_id:int}/discard", action(console, discard, Role.operator), methods=["POST"]),
    ]
