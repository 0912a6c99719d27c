"""The seams to the sync and workflow engines, which event intake drives but does not own.

Event intake talks to them through two small protocols, so its tests inject fakes
(or None, to leave an engine out) and the real engines are loaded only when a
:class:`hub.events.runtime.Runtime` is built without them.
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

    def tick(self, now: datetime) -> list[str]:
        """Time out waits past their deadline and send the reminders that are due; what it did."""
        ...

    def poll(self) -> int:
        """Check waits on vendors without webhooks; how many it resumed."""
        ...

    def resume(self, run_id: str) -> object:
        """Continue a failed or interrupted run (``hub workflow resume RUN``)."""
        ...

    def advance(self, run_id: str) -> object:
        """Advance one run as far as it can go, under its lease (another process advancing
        it already is left to it)."""
        ...


#: ``run_job(hub, name, dry_run=..., full_refresh=...) -> summary`` of ``hub.sync.engine``
SyncRunner = Callable[..., dict[str, Any]]


def load_workflow_engine(hub: Hub, advance_later: Callable[[str], None] | None = None) -> WorkflowPort:
    """The workflow engine of ``hub`` (imported here: it imports connectors and mappings);
    ``advance_later`` hands the runs an event resumed to a queue (Celery mode)."""
    from hub.workflow.engine import WorkflowEngine

    engine: WorkflowPort = WorkflowEngine(hub, advance_later=advance_later)
    return engine


def load_sync_runner() -> SyncRunner:
    """``hub.sync.engine.run_job``."""
    from hub.sync.engine import run_job

    return run_job


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
