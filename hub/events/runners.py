"""The seams to the sync and workflow engines, which event intake drives but does not own.

Both engines are imported lazily, inside functions, so event intake works (and is
testable with fakes) on its own: ``hub serve`` without a workflow engine installed
still stores and syncs, and says so once in its log. Every path that runs a sync
(an event, a schedule, a Celery task) goes through :func:`run_sync`, so the sync-run
metric is counted in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from hub.connector import Event
from hub.logging import get_logger

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["SyncRunner", "WorkflowPort", "load_sync_runner", "load_workflow_engine", "run_sync"]

log = get_logger("hub.events")


class WorkflowPort(Protocol):
    """What event intake needs of ``hub.workflow.engine.WorkflowEngine``."""

    def handle_event(self, event: Event) -> list[str]:
        """Resume the steps waiting on ``event``; the ids of the runs it resumed."""
        ...

    def tick(self, now: datetime) -> None:
        """Time out waits past their deadline and send the reminders that are due."""
        ...

    def poll(self) -> int:
        """Check waits on vendors without webhooks; how many it resumed."""
        ...

    def resume(self, run_id: str) -> object:
        """Advance one run as far as it can go (``hub workflow resume RUN``)."""
        ...


#: ``run_job(hub, name, dry_run=..., full_refresh=...) -> summary`` of ``hub.sync.engine``
SyncRunner = Callable[..., dict[str, Any]]


def load_workflow_engine(hub: Hub) -> WorkflowPort | None:
    """The workflow engine of ``hub``, or None (logged) while none is installed."""
    try:
        from hub.workflow.engine import WorkflowEngine  # type: ignore[import-not-found]
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("hub.workflow"):
            raise
        log.warning("no workflow engine installed: events will not resume workflows")
        return None
    engine: WorkflowPort = WorkflowEngine(hub)
    return engine


def load_sync_runner() -> SyncRunner | None:
    """``hub.sync.engine.run_job``, or None (logged) while no sync engine is installed."""
    try:
        from hub.sync.engine import run_job  # type: ignore[import-not-found]
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("hub.sync"):
            raise
        log.warning("no sync engine installed: events and schedules will not run syncs")
        return None
    runner: SyncRunner = run_job
    return runner


def run_sync(
    hub: Hub, runner: SyncRunner, job: str, *, full_refresh: bool = False, trigger: str = "schedule"
) -> dict[str, Any]:
    """Run one sync job for an event or a schedule and log its outcome.

    The sync engine counts every run's outcome (``hub_sync_runs``), including a run
    refused because another run of the job holds its lock (``locked``).
    """
    summary = runner(hub, job, dry_run=False, full_refresh=full_refresh)
    status = str(summary.get("status", "ok"))
    log.info("sync finished", job=job, trigger=trigger, status=status)
    return summary
