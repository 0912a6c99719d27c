"""The pieces of event intake wired to one :class:`~hub.app.Hub`, shared by every mode.

``hub serve`` (one process: receiver, event worker thread, scheduler thread) and
``hub worker`` (Celery tasks) build the same :class:`Runtime`, so a task runs exactly
the functions the single-process mode runs. Tests pass fakes for the engines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError
from hub.events.lifecycle import LifecycleRules
from hub.events.processor import EventProcessor
from hub.events.psa import ConnectorTicketPort
from hub.events.runners import SyncRunner, WorkflowPort, load_sync_runner, load_workflow_engine, run_sync
from hub.events.scheduler import Schedule
from hub.events.store import EventStore
from hub.settings import ScheduleSpec

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
    ) -> None:
        self.hub = hub
        self.events = EventStore(hub.store, hub.clock)
        self.workflow: WorkflowPort | None = load_workflow_engine(hub) if workflow is _UNSET else workflow
        self.sync: SyncRunner | None = load_sync_runner() if sync is _UNSET else sync
        self.lifecycle: LifecycleRules | None = build_lifecycle(hub) if lifecycle is _UNSET else lifecycle
        self.processor = EventProcessor(
            hub,
            self.events,
            workflow=self.workflow,
            sync=self.sync,
            lifecycle=self.lifecycle,
            clock=hub.clock,
        )

    # -- the units of work (a schedule, a Celery task) ------------------------------

    def run_sync(self, job: str, *, full_refresh: bool = False, trigger: str = "schedule") -> dict[str, Any]:
        if self.sync is None:
            raise ConfigError(f"cannot run sync job {job!r}: no sync engine is installed")
        if job not in self.hub.plugins.jobs():
            known = ", ".join(sorted(self.hub.plugins.jobs())) or "none registered"
            raise ConfigError(f"unknown sync job {job!r}; jobs: {known}")
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
        return [Schedule(spec.name, spec.cron, self._task(spec)) for spec in self.schedule_specs()]

    def _task(self, spec: ScheduleSpec) -> Callable[[], object]:
        where = f"schedules.{spec.name}"
        if spec.task.startswith("sync:"):
            job = spec.task.removeprefix("sync:")
            if self.sync is None:
                raise ConfigError(f"{where}: runs {spec.task} but no sync engine is installed")
            if job not in self.hub.plugins.jobs():
                known = ", ".join(sorted(self.hub.plugins.jobs())) or "none registered"
                raise ConfigError(f"{where}: unknown sync job {job!r}; jobs: {known}")
            return lambda: self.run_sync(job, full_refresh=spec.full_refresh)
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
