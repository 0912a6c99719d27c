"""Running a sync job: lock, steps, counters, summary, run record, lifecycle hooks.

``run_job(hub, name)`` is the one entry point (CLI, scheduler, Celery task). It refuses
a second concurrent run of the same job, runs the job's steps in order, and returns the
JSON summary of DESIGN.md::

    {"job": "psa-to-docs", "status": "ok", "dry_run": false, "read": 120, "created": 3,
     "updated": 5, "unchanged": 112, "conflicts": 0, "failed": 0,
     "api_calls": {"autotask": 2, "itglue": 10}, "duration_s": 1.84}

``status`` is ``ok``, ``partial`` (some records dead-lettered) or ``failed`` (the run
stopped; its checkpoints let the next run resume). ``unmapped_values`` counts the vendor
values no mapping knew (each left the core field unset; see :mod:`hub.mapping`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub import metrics
from hub.errors import ConfigError, HubError
from hub.logging import get_logger
from hub.mapping import track_unmapped
from hub.state.store import JobLocked
from hub.sync.affinity import one_cpu
from hub.sync.gc import bulk_gc

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.sync.jobs import SyncJob

__all__ = ["MassDeactivation", "PlanEntry", "SyncRun", "get_job", "retry_dead_letters", "run_job"]

log = get_logger("hub.sync")

#: dry-run plans keep at most this many entries (the counters still count everything)
MAX_PLAN_ENTRIES = 10_000


class MassDeactivation(ConfigError):
    """A run would deactivate more of a target than the guard allows."""


@dataclass
class PlanEntry:
    """One planned or performed change, with field-level before/after for updates."""

    action: str
    system: str
    entity: str
    source_id: str | None = None
    target_id: str | None = None
    name: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class SyncRun:
    """The state of one run, shared by its steps."""

    hub: Hub
    job: SyncJob
    run_id: str
    dry_run: bool = False
    full_refresh: bool = False
    allow_mass_deactivate: bool = False
    progress: Callable[[str, int], None] | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("read", "created", "updated", "unchanged", "conflicts", "failed", "deactivated", "skipped"), 0
        )
    )
    plan: list[PlanEntry] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    #: source refs a dry run plans to create, so records referring to them plan a create too
    planned: set[str] = field(default_factory=set)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def record(self, entry: PlanEntry) -> None:
        """Keep a plan entry (dry runs; conflicts and failures always) for the summary."""
        if (self.dry_run or entry.action in ("conflict", "failed")) and len(self.plan) < MAX_PLAN_ENTRIES:
            self.plan.append(entry)

    def report(self, line: str) -> None:
        """Something a person should look at that is not an error (e.g. a customer with no recipient)."""
        log.warning("sync.report", job=self.job.name, detail=line)
        self.reports.append(line)

    def tick(self, label: str, read: int) -> None:
        if self.progress is not None:
            self.progress(label, read)


def get_job(hub: Hub, name: str) -> SyncJob:
    jobs = hub.plugins.jobs()
    if name not in jobs:
        known = ", ".join(sorted(jobs)) or "none"
        raise ConfigError(f"unknown sync job {name!r}; jobs: {known}")
    return jobs[name]  # type: ignore[no-any-return]


def run_job(
    hub: Hub,
    name: str,
    *,
    dry_run: bool = False,
    full_refresh: bool = False,
    allow_mass_deactivate: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Run job ``name`` and return its summary; raises only for configuration errors."""
    job = get_job(hub, name)
    for connector in job.connectors:
        hub.connector(connector)  # fail fast, with exit 2, on a missing setting
    try:
        with hub.store.lock(f"sync:{name}"), bulk_gc(), one_cpu(hub.settings.sync_pin_cpu):
            summary, error = _run_locked(hub, job, dry_run, full_refresh, allow_mass_deactivate, progress)
    except JobLocked:
        metrics.SYNC_RUNS.labels(job=name, status="locked").inc()
        raise
    metrics.SYNC_RUNS.labels(job=name, status=summary["status"]).inc()
    metrics.DEAD_LETTERS.set(len(hub.store.dead_letters()))
    if error is not None:
        hub.plugins.hook.hub_sync_error(job=name, error=error)
        if isinstance(error, ConfigError):
            raise error
    hub.plugins.hook.hub_sync_finished(job=name, summary=summary)
    return summary


def _run_locked(
    hub: Hub,
    job: SyncJob,
    dry_run: bool,
    full_refresh: bool,
    allow_mass_deactivate: bool,
    progress: Callable[[str, int], None] | None,
) -> tuple[dict[str, Any], HubError | None]:
    name = job.name
    calls_before = hub.api_calls()
    started = time.perf_counter()
    store = hub.store
    run_id = store.start_run(name, "sync", dry_run=dry_run)
    run = SyncRun(hub, job, run_id, dry_run, full_refresh, allow_mass_deactivate, progress)
    hub.plugins.hook.hub_sync_started(job=name, dry_run=dry_run)
    status, error = "ok", None
    try:
        with track_unmapped() as unmapped:
            for step in job.steps:
                log.info("sync.step", job=name, step=step.label, dry_run=dry_run)
                step.run(run)
    except HubError as exc:
        status, error = "failed", exc
        log.error("sync.failed", job=name, error=str(exc))
    if status == "ok" and run.counts["failed"]:
        status = "partial"
    calls_after = hub.api_calls()
    summary: dict[str, Any] = {
        "job": name,
        "status": status,
        "dry_run": dry_run,
        **{k: run.counts[k] for k in ("read", "created", "updated", "unchanged", "conflicts", "failed")},
        "deactivated": run.counts["deactivated"],
        "skipped": run.counts["skipped"],
        "unmapped_values": unmapped.count,
        "api_calls": {c: calls_after.get(c, 0) - calls_before.get(c, 0) for c in job.connectors if c in calls_after},
        "duration_s": round(time.perf_counter() - started, 3),
        "run_id": run_id,
    }
    if error is not None:
        summary["error"] = str(error)
    if run.reports:
        summary["reports"] = run.reports
    if run.plan:
        summary["plan"] = [entry.as_dict() for entry in run.plan]
    store.finish_run(run_id, status, {k: v for k, v in summary.items() if k != "plan"})
    return summary, error


def retry_dead_letters(hub: Hub, job_name: str | None = None) -> dict[str, Any]:
    """Process every unresolved dead letter again (of one job, or all); returns the outcome counts."""
    from hub.sync.entity import EntitySync
    from hub.sync.jobs import EntityStep

    outcome: dict[str, Any] = {"retried": 0, "resolved": 0, "failed": 0, "skipped": 0, "errors": []}
    for letter in hub.store.dead_letters(job_name):
        job = get_job(hub, letter.job)
        record = letter.record if isinstance(letter.record, dict) else {}
        step = next(
            (
                s
                for s in job.steps
                if isinstance(s, EntityStep)
                and s.target == letter.system
                and s.source == record.get("source")
                and s.stream == record.get("stream")
            ),
            None,
        )
        if step is None or letter.operation != "write":
            outcome["skipped"] += 1
            continue
        with hub.store.lock(f"sync:{letter.job}"):
            run = SyncRun(hub, job, hub.store.start_run(letter.job, "retry"))
            outcome["retried"] += 1
            try:
                op = EntitySync(run, step).retry(letter.record_id)
            except HubError as exc:
                op = "failed"
                outcome["errors"].append(f"{letter.job} {letter.record_id}: {exc}")
            hub.store.finish_run(run.run_id, "ok" if op != "failed" else "partial", dict(run.counts))
        outcome["resolved" if op not in ("failed", "missing") else "failed"] += 1
    metrics.DEAD_LETTERS.set(len(hub.store.dead_letters()))
    return outcome
