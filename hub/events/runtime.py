"""The pieces of event intake wired to one :class:`~hub.app.Hub`, shared by every mode.

``hub serve`` (one process: receiver, event worker thread, scheduler thread) and
``hub worker`` (Celery tasks) build the same :class:`Runtime`, so a task runs exactly
the functions the single-process mode runs. Tests pass fakes for the engines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub import metrics
from hub.errors import ConfigError
from hub.events.dispatch import Dispatcher, Work
from hub.events.lifecycle import LifecycleRules
from hub.events.processor import BUSY_DELAY, EventProcessor
from hub.events.psa import ConnectorTicketPort
from hub.events.runners import SyncRunner, WorkflowPort, load_sync_runner, load_workflow_engine, run_sync
from hub.events.scheduler import Schedule
from hub.events.store import EventStore
from hub.logging import get_logger
from hub.settings import ScheduleSpec
from hub.state.leases import JobLocked, ProcessIdentity

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["DEFAULT_SCHEDULES", "Runtime", "build_lifecycle"]

#: schedules every ``hub serve`` runs unless hub.yaml redefines (or disables) one of the same name
DEFAULT_SCHEDULES = (
    ScheduleSpec(name="workflow-tick", cron="* * * * *", task="workflow.tick"),
    ScheduleSpec(name="workflow-poll", cron="*/15 * * * *", task="workflow.poll"),
    ScheduleSpec(name="events-retry", cron="* * * * *", task="events.retry"),
)

_UNSET: Any = object()
#: seconds between two heartbeats of a unit of work a worker runs (the ledger's STALE is 2 min)
WORK_HEARTBEAT = 30.0

log = get_logger("hub.events")


def build_lifecycle(hub: Hub, *, always: bool = False, dry_run: bool = False) -> LifecycleRules | None:
    """The ticket lifecycle rules over the PSA (``lifecycle.psa.connector``, else the PSA role),
    or None when they are off (``always``: also when off, for ``hub lifecycle run``)."""
    settings = hub.settings.lifecycle
    if not settings.enabled and not always:
        return None
    psa = settings.psa
    connector = psa.connector or hub.roles.connector("psa")
    entity = psa.entity or hub.roles.entity("psa", "tickets", connector)
    stream = psa.stream or hub.roles.stream("psa", "tickets", connector)
    port = ConnectorTicketPort(hub.connector(connector), hub.mapping(connector).entity(entity), stream)
    return LifecycleRules(port, hub.store, settings, hub.clock, zone=hub.settings.timezone, dry_run=dry_run)


class Runtime:
    """Event store, processor, engines and lifecycle rules of one hub."""

    def __init__(
        self,
        hub: Hub,
        *,
        workflow: WorkflowPort | None = _UNSET,
        sync: SyncRunner | None = _UNSET,
        lifecycle: LifecycleRules | None = _UNSET,
        dispatcher: Dispatcher | None = _UNSET,
    ) -> None:
        self.hub = hub
        self.events = EventStore(hub.store, hub.clock)
        #: where work goes past one process (``HUB_DISPATCH=celery``); None: it runs here
        self.dispatcher: Dispatcher | None = _celery_dispatcher(hub) if dispatcher is _UNSET else dispatcher
        later = self.dispatcher.send_advance if self.dispatcher is not None else None
        self.workflow: WorkflowPort | None = load_workflow_engine(hub, later) if workflow is _UNSET else workflow
        self.sync: SyncRunner | None = load_sync_runner() if sync is _UNSET else sync
        self.lifecycle: LifecycleRules | None = build_lifecycle(hub) if lifecycle is _UNSET else lifecycle
        self.processor = EventProcessor(
            hub,
            self.events,
            workflow=self.workflow,
            sync=self.sync,
            lifecycle=self.lifecycle,
            clock=hub.clock,
            request_sync=self._request_sync if self.dispatcher is not None else None,
        )

    def _request_sync(self, job: str) -> None:
        assert self.dispatcher is not None
        self.dispatcher.request(Work("sync", {"job": job, "trigger": "event", "retry_busy": True}))

    # -- the work ledger (Celery workers) -------------------------------------------

    def run_dispatch(self, row_id: int) -> dict[str, Any]:
        """Run one row of the work ledger if this process can claim it (the body of the
        ``hub.run_work`` task); a second delivery of its message finds it taken."""
        ledger = self.hub.store.work
        clock = self.hub.clock
        me = ProcessIdentity.current()
        row = ledger.claim(row_id, me, clock.now())
        if row is None:
            return {"id": row_id, "status": "taken"}
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(row_id, me, stop), name=f"work-{row_id}", daemon=True)
        beat.start()
        started = time.monotonic()
        status = "failed"
        try:
            status = self.run_work(Work(row.task, row.args))
        except JobLocked as exc:
            status = "deferred" if row.args.get("retry_busy") else "skipped"
            if status == "deferred":
                ledger.defer(row_id, clock.now() + BUSY_DELAY, str(exc))
            else:
                ledger.finish(row_id, "skipped", clock.now(), str(exc))
            return {"id": row_id, "status": status}
        except Exception as exc:  # kept on the row and in the log; the next slot runs again
            ledger.finish(row_id, "failed", clock.now(), f"{type(exc).__name__}: {exc}")
            log.error("work failed", task=row.task, args=row.args, error=f"{type(exc).__name__}: {exc}")
            return {"id": row_id, "status": "failed"}
        finally:
            stop.set()
            beat.join()
            metrics.WORK_DURATION.labels(task=row.task, status=status).observe(time.monotonic() - started)
        ledger.finish(row_id, status, clock.now())
        return {"id": row_id, "status": status}

    def _beat(self, row_id: int, me: ProcessIdentity, stop: threading.Event) -> None:
        while not stop.wait(WORK_HEARTBEAT):
            try:
                self.hub.store.work.beat(row_id, me, self.hub.clock.now())
            except Exception as exc:  # a database hiccup: the next beat tries again, well inside STALE
                log.warning("work heartbeat failed", row=row_id, error=str(exc))

    def run_work(self, work: Work) -> str:
        """Run one unit of work here; ``done``, or ``failed`` for a sync that failed."""
        args = work.args
        if work.task == "sync":
            part = str(args["part"]) if args.get("part") else None
            summary = self.run_sync(str(args["job"]), full_refresh=bool(args.get("full_refresh")),
                                    trigger=str(args.get("trigger", "schedule")), part=part)  # fmt: skip
            return "failed" if summary.get("status") == "failed" else "done"
        if work.task == "workflow.tick":
            self.workflow_tick()
        elif work.task == "workflow.poll":
            self.workflow_poll()
        elif work.task == "lifecycle":
            self.run_lifecycle()
        elif work.task == "events.retry":
            self.processor.drain()
        else:
            raise ConfigError(f"unknown unit of work {work.task!r}")
        return "done"

    # -- the units of work (a schedule, a Celery task) ------------------------------

    def run_sync(
        self, job: str, *, full_refresh: bool = False, trigger: str = "schedule", part: str | None = None
    ) -> dict[str, Any]:
        """Run sync job ``job`` (only ``part``, ``I/N``, of a job split across workers)."""
        if self.sync is None:
            raise ConfigError(f"cannot run sync job {job!r}: no sync engine is installed")
        if job not in self.hub.plugins.jobs():
            known = ", ".join(sorted(self.hub.plugins.jobs())) or "none registered"
            raise ConfigError(f"unknown sync job {job!r}; jobs: {known}")
        if part is not None:
            from hub.sync.engine import Part

            summary = self.sync(self.hub, job, dry_run=False, full_refresh=full_refresh, part=Part.parse(part))
            log.info("sync finished", job=job, part=part, trigger=trigger, status=summary.get("status"))
            return summary
        return run_sync(self.hub, self.sync, job, full_refresh=full_refresh, trigger=trigger)

    def workflow_engine(self) -> WorkflowPort:
        if self.workflow is None:
            raise ConfigError("no workflow engine is installed")
        return self.workflow

    def workflow_tick(self) -> None:
        self.workflow_engine().tick(self.hub.clock.now())

    def workflow_poll(self) -> int:
        return self.workflow_engine().poll()

    def run_lifecycle(self) -> int:
        if self.lifecycle is None:
            raise ConfigError("the ticket lifecycle rules are off (lifecycle.enabled: false in hub.yaml)")
        return len(self.lifecycle.run())

    # -- schedules ------------------------------------------------------------------

    def schedule_specs(self) -> list[ScheduleSpec]:
        """The defaults that apply here, replaced or disabled by hub.yaml's ``schedules``."""
        specs: dict[str, ScheduleSpec] = {}
        for spec in DEFAULT_SCHEDULES:
            if spec.task.startswith("workflow.") and self.workflow is None:
                continue
            specs[spec.name] = spec
        if self.lifecycle is not None:
            cron = self.hub.settings.lifecycle.cron
            specs["ticket-lifecycle"] = ScheduleSpec(name="ticket-lifecycle", cron=cron, task="lifecycle")
        for spec in self.hub.settings.schedules:
            specs[spec.name] = spec
        return [s for s in specs.values() if s.enabled]

    def schedules(self) -> list[Schedule]:
        """Runnable schedules; a schedule that cannot run here is a configuration error now."""
        return [Schedule(spec.name, spec.cron, self._task(spec), _work(spec)) for spec in self.schedule_specs()]

    def _task(self, spec: ScheduleSpec) -> Callable[[], object]:
        where = f"schedules.{spec.name}"
        if spec.task.startswith("sync:"):
            job = spec.task.removeprefix("sync:")
            if self.sync is None:
                raise ConfigError(f"{where}: runs {spec.task} but no sync engine is installed")
            if job not in self.hub.plugins.jobs():
                known = ", ".join(sorted(self.hub.plugins.jobs())) or "none registered"
                raise ConfigError(f"{where}: unknown sync job {job!r}; jobs: {known}")
            return lambda: self.run_sync(job, full_refresh=spec.full_refresh, part=spec.part)
        if spec.task.startswith("workflow.") and self.workflow is None:
            raise ConfigError(f"{where}: runs {spec.task} but no workflow engine is installed")
        if spec.task == "workflow.tick":
            return self.workflow_tick
        if spec.task == "workflow.poll":
            return self.workflow_poll
        if spec.task == "lifecycle":
            if self.lifecycle is None:
                raise ConfigError(f"{where}: runs the lifecycle rules but lifecycle.enabled is false")
            return self.run_lifecycle
        return self.processor.drain


def _work(spec: ScheduleSpec) -> Work:
    """A schedule as a unit of the work ledger (what a Celery worker runs for it)."""
    if spec.task.startswith("sync:"):
        args: dict[str, object] = {"job": spec.task.removeprefix("sync:"), "full_refresh": spec.full_refresh}
        if spec.part is not None:
            args["part"] = spec.part
        return Work("sync", args)
    return Work(spec.task)


def _celery_dispatcher(hub: Hub) -> Dispatcher | None:
    """The dispatcher to the Celery queues with ``HUB_DISPATCH=celery``, else None."""
    if hub.settings.dispatch != "celery":
        return None
    from hub.events.dispatch import CeleryDispatcher
    from hub.events.tasks import publisher

    return CeleryDispatcher(publisher(hub.settings.celery_broker_url), hub.store.work, hub.clock)
