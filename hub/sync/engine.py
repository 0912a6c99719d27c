"""Running a sync job: lock, steps, counters, summary, run record, lifecycle hooks.

``run_job(hub, name)`` is the one entry point (CLI, scheduler, Celery task). It refuses
a second concurrent run of the same job, runs the job's steps in order, and returns the
JSON summary of DESIGN.md::

    {"job": "psa-to-docs", "status": "ok", "dry_run": false, "read": 120, "created": 3,
     "updated": 5, "unchanged": 112, "conflicts": 0, "failed": 0,
     "api_calls": {"autotask": 2, "itglue": 10}, "duration_s": 1.84}

``status`` is ``ok``, ``partial`` (some records dead-lettered) or ``failed`` (the run
stopped; its checkpoints let the next run resume). A run stopped by Ctrl-C is recorded
as ``interrupted`` and raises :class:`SyncInterrupted` with the summary so far.
``unmapped_values`` counts the vendor values no mapping knew (each left the core field
unset; see :mod:`hub.mapping`).

``progress``, if given, is called with a :class:`SyncProgress` after every page a step
reads: once per page, never per record, so a display costs the run nothing.

**A job split across workers** (``part``, :class:`Part`): part ``i`` of ``n`` handles the
source records whose organization's id hashes to ``i`` (an organization by its own id, a
contact by its organization's), so an organization and its contacts always fall in the
same part and each part runs the job's steps in order on its own. Every part reads every
page (reads are cheap; the writes are what is split). Parts run at once in different
processes: each holds its own lease (``sync:<job>#i/n``) and keeps its own cursors and run
record, never together with a whole run of the job (each refuses to start while the other
kind holds the job). A part adopts a target record the match rules found by linking it
first, in its own committed transaction, so two parts never adopt one record; it plans
no deletions and applies no deactivations (the next whole run does, behind the guard),
and it starts only when no write of the job has an unknown outcome (a whole run or
``hub deadletters retry`` settles those). Only jobs of entity steps can be split.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub import metrics
from hub.errors import ConfigError, HubError
from hub.logging import get_logger
from hub.mapping import UnmappedValues, track_unmapped
from hub.state.leases import JobLocked, Lease
from hub.sync.affinity import one_cpu
from hub.sync.gc import bulk_gc

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from hub.app import Hub
    from hub.sync.jobs import SyncJob

__all__ = [
    "MassDeactivation",
    "Part",
    "PlanEntry",
    "SyncInterrupted",
    "SyncProgress",
    "SyncRun",
    "WriteCounter",
    "discard_dead_letters",
    "get_job",
    "retry_dead_letters",
    "run_job",
    "select_steps",
]

log = get_logger("hub.sync")

#: dry-run plans keep at most this many entries (the counters still count everything)
MAX_PLAN_ENTRIES = 10_000


class MassDeactivation(ConfigError):
    """A run would deactivate more of a target than the guard allows."""


class SyncInterrupted(KeyboardInterrupt):
    """The run was stopped by Ctrl-C; ``summary`` is what it did up to its last checkpoint."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__(summary["job"])
        self.summary = summary


class WriteCounter:
    """Writes the vendor has answered in a run, counted by the write workers as they go.

    A display reads it between pages, while a page's writes are in flight (the counters
    of the summary move only once a page is committed). In CPython adding to an int
    attribute from several threads loses no update in practice, and a display is all
    that reads it: no lock on the write path.
    """

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


@dataclass(frozen=True)
class SyncProgress:
    """Where a run stands, handed to a progress display after each page.

    ``total`` is how many records the step's read yields in all, where the vendor says
    (None otherwise); ``planned`` counts the creates and updates the run has planned so
    far, ``answered`` the writes sent and answered (live: it keeps moving between pages)
    and ``counts`` the summary counters.
    """

    job: str
    step: str
    read: int
    total: int | None
    planned: int
    counts: dict[str, int]
    answered: WriteCounter = field(default_factory=WriteCounter, compare=False)
    dry_run: bool = False

    @property
    def written(self) -> int:
        """Writes done: answered so far (in a dry run, none is sent)."""
        return 0 if self.dry_run else self.answered.value


@dataclass(frozen=True)
class Part:
    """Part ``index`` (1-based) of a job split into ``count`` parts."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ConfigError(f"--part {self.index}/{self.count}: the part must be between 1 and {self.count}")

    @classmethod
    def parse(cls, text: str) -> Part:
        """``2/3`` (``--part``)."""
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit() or int(count) < 1:
            raise ConfigError(f"--part {text!r}: give it as I/N, e.g. 1/3")
        return cls(int(index), int(count))

    @property
    def suffix(self) -> str:
        """What names this part's lease, cursors and run: ``#2/3``."""
        return f"#{self.index}/{self.count}"

    def owns(self, key: str) -> bool:
        """Whether the record whose organization is ``key`` belongs to this part."""
        return zlib.crc32(key.encode("utf-8")) % self.count == self.index - 1


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
    progress: Callable[[SyncProgress], None] | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("read", "created", "updated", "unchanged", "conflicts", "failed", "deactivated", "skipped"), 0
        )
    )
    plan: list[PlanEntry] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    #: source refs a dry run plans to create, so records referring to them plan a create too
    planned: set[str] = field(default_factory=set)
    #: creates and updates planned so far (for progress: how many writes are still to do)
    planned_writes: int = 0
    #: writes answered so far, counted as they happen (for progress)
    answered: WriteCounter = field(default_factory=WriteCounter)
    #: the job's lease: every commit is fenced by it (None only for unit tests of a step)
    lease: Lease | None = None
    #: the part of the job this run handles (None: all of it)
    part: Part | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A state-store transaction that commits only while this run still holds its lease."""
        with self.hub.store.transaction() as conn:
            if self.lease is not None:
                self.lease.check(conn)
            yield conn

    def ensure_lease(self) -> None:
        """Before a write: stop if the heartbeat found the lease taken by another run."""
        if self.lease is not None:
            self.lease.ensure()

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

    def tick(self, label: str, read: int, *, total: int | None = None, planned: int = 0) -> None:
        """A step read another page: ``read`` records so far (of ``total``, if known), and
        ``planned`` more creates and updates to send."""
        self.planned_writes += planned
        if self.progress is not None:
            self.progress(SyncProgress(self.job.name, label, read, total, self.planned_writes, dict(self.counts),
                                       self.answered, self.dry_run))  # fmt: skip


def get_job(hub: Hub, name: str) -> SyncJob:
    """Job ``name`` bound to the connectors that fill its roles (``HUB_ROLES__*``)."""
    jobs = hub.plugins.jobs()
    if name not in jobs:
        known = ", ".join(sorted(jobs)) or "none"
        raise ConfigError(f"unknown sync job {name!r}; jobs: {known}")
    return jobs[name].bind(hub.roles)


def select_steps(job: SyncJob, streams: list[str]) -> SyncJob:
    """``job`` with only the steps that read one of ``streams`` (``stream`` or
    ``connector.stream``, as ``hub sync JOB --select`` takes them)."""
    from hub.sync.jobs import SyncJob

    names = {name for c, s in job.sources for name in (s, f"{c}.{s}")}
    unknown = [s for s in streams if s not in names]
    if unknown:
        known = ", ".join(f"{c}.{s}" for c, s in job.sources) or "none"
        raise ConfigError(f"--select {unknown[0]}: job {job.name} reads no such stream; its streams: {known}")
    steps = [step for step in job.steps if any(s in streams or f"{c}.{s}" in streams for c, s in step.sources)]
    return SyncJob(job.name, job.description, steps)


def run_job(
    hub: Hub,
    name: str,
    *,
    dry_run: bool = False,
    full_refresh: bool = False,
    allow_mass_deactivate: bool = False,
    progress: Callable[[SyncProgress], None] | None = None,
    select: list[str] | None = None,
    part: Part | None = None,
) -> dict[str, Any]:
    """Run job ``name`` (only the steps reading the ``select`` streams, if given; only the
    records of ``part``, if given) and return its summary; raises only for configuration
    errors and Ctrl-C."""
    job = get_job(hub, name)
    if select:
        job = select_steps(job, select)
    if part is not None:
        _check_splittable(hub, job, part, full_refresh)
    for connector in job.connectors:
        hub.connector(connector)  # fail fast, with exit 2, on a missing setting
    label = name + (part.suffix if part else "")
    try:
        with hub.store.lock(f"sync:{label}") as lease, bulk_gc(), one_cpu(hub.settings.sync_pin_cpu):
            _alone(hub, name, part)
            killed = hub.store.mark_killed(label)
            if killed:
                log.warning("sync.killed_runs", job=label, runs=killed)
            summary, error = _run_locked(hub, job, dry_run, full_refresh, allow_mass_deactivate, progress, lease,
                                         part)  # fmt: skip
    except JobLocked:
        metrics.SYNC_RUNS.labels(job=name, status="locked").inc()
        raise
    metrics.SYNC_RUNS.labels(job=name, status=summary["status"]).inc()
    metrics.SYNC_DURATION.labels(job=name, status=summary["status"]).observe(summary["duration_s"])
    metrics.DEAD_LETTERS.set(len(hub.store.dead_letters()))
    if error is not None:
        hub.plugins.sync_error(job=name, error=error)
        if isinstance(error, ConfigError):
            raise error
    hub.plugins.sync_finished(job=name, summary=summary)
    return summary


def _check_splittable(hub: Hub, job: SyncJob, part: Part, full_refresh: bool) -> None:
    """A job runs in parts only if every step is an entity copy, and only while no write of
    it has an unknown outcome (settling one looks the record up, which two parts could do
    at once)."""
    from hub.sync.entity import UNKNOWN
    from hub.sync.jobs import EntityStep

    if not all(isinstance(step, EntityStep) for step in job.steps):
        raise ConfigError(f"--part: job {job.name} cannot be split (only jobs of entity copies can)")
    if full_refresh:
        raise ConfigError("--part and --full-refresh: a full refresh reads for deletions, which needs the whole job")
    unknown = hub.store.dead_letters(job.name, operation=UNKNOWN)
    if unknown:
        raise ConfigError(
            f"--part {part.index}/{part.count}: {len(unknown)} write(s) of {job.name} have an unknown outcome; "
            f"settle them first with a whole run (hub sync {job.name}) or hub deadletters retry"
        )


def _alone(hub: Hub, name: str, part: Part | None) -> None:
    """Refuse to run while the other kind of run of the job (whole, or a part) holds it."""
    others = hub.store.leases.held(f"sync:{name}") if part else hub.store.leases.held(f"sync:{name}#", prefix=True)
    if others:
        raise JobLocked(f"sync:{name} is already running ({', '.join(others)}); wait for it to finish")


def _run_locked(
    hub: Hub,
    job: SyncJob,
    dry_run: bool,
    full_refresh: bool,
    allow_mass_deactivate: bool,
    progress: Callable[[SyncProgress], None] | None,
    lease: Lease,
    part: Part | None = None,
) -> tuple[dict[str, Any], HubError | None]:
    name = job.name
    calls_before = hub.api_calls()
    started = time.perf_counter()
    store = hub.store
    run_id = store.start_run(name + (part.suffix if part else ""), "sync", dry_run=dry_run)
    run = SyncRun(hub, job, run_id, dry_run, full_refresh, allow_mass_deactivate, progress, lease=lease, part=part)
    hub.plugins.sync_started(job=name, dry_run=dry_run)
    status, error = "ok", None
    unmapped = UnmappedValues()
    try:
        with track_unmapped(unmapped):
            for step in job.steps:
                log.info("sync.step", job=name, step=step.label, dry_run=dry_run)
                step.run(run)
    except HubError as exc:
        status, error = "failed", exc
        log.error("sync.failed", job=name, error=str(exc))
    except KeyboardInterrupt:
        summary = _summary(hub, run, "interrupted", calls_before, started, unmapped)
        store.finish_run(run_id, "interrupted", summary)
        log.warning("sync.interrupted", job=name, run_id=run_id)
        raise SyncInterrupted(summary) from None
    if status == "ok" and run.counts["failed"]:
        status = "partial"
    summary = _summary(hub, run, status, calls_before, started, unmapped)
    if error is not None:
        summary["error"] = str(error)
        summary["error_type"] = error.failure_type.value
    if run.reports:
        summary["reports"] = run.reports
    if run.plan:
        summary["plan"] = [entry.as_dict() for entry in run.plan]
    store.finish_run(run_id, status, {k: v for k, v in summary.items() if k != "plan"})
    return summary, error


def _summary(
    hub: Hub, run: SyncRun, status: str, calls_before: dict[str, int], started: float, unmapped: UnmappedValues
) -> dict[str, Any]:
    """The JSON summary of DESIGN.md (plus deactivated, skipped, unmapped_values and run_id) of ``run`` so far."""
    calls_after = hub.api_calls()
    return {
        "job": run.job.name,
        "status": status,
        "dry_run": run.dry_run,
        **{k: run.counts[k] for k in ("read", "created", "updated", "unchanged", "conflicts", "failed")},
        "deactivated": run.counts["deactivated"],
        "skipped": run.counts["skipped"],
        "unmapped_values": unmapped.count,
        "api_calls": {
            c: calls_after.get(c, 0) - calls_before.get(c, 0) for c in run.job.connectors if c in calls_after
        },
        "duration_s": round(time.perf_counter() - started, 3),
        "run_id": run.run_id,
    }


def retry_dead_letters(
    hub: Hub, job_name: str | None = None, ids: Collection[int] | None = None
) -> dict[str, Any]:
    """Process unresolved dead letters again (of one job, or all; only ``ids`` when given); returns the counts.

    A write whose outcome stayed unknown is looked up first and sent again only if the
    vendor provably does not hold it (see hub.writes).
    """
    from hub.sync.entity import UNKNOWN, EntitySync
    from hub.sync.jobs import EntityStep

    outcome: dict[str, Any] = {"retried": 0, "resolved": 0, "failed": 0, "skipped": 0, "errors": []}
    for letter in hub.store.dead_letters(job_name):
        if ids is not None and letter.id not in ids:
            continue
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
        if step is None or letter.operation not in ("write", UNKNOWN):
            outcome["skipped"] += 1
            continue
        with hub.store.lock(f"sync:{letter.job}") as lease:
            run = SyncRun(hub, job, hub.store.start_run(letter.job, "retry"), lease=lease)
            outcome["retried"] += 1
            try:
                sync = EntitySync(run, step)
                if letter.operation == UNKNOWN:
                    sync.resolve_unknown()
                    settled = not hub.store.dead_lettered(letter.job, letter.system, letter.kind, [letter.record_id])
                    op = "resolved" if settled else "failed"
                else:
                    op = sync.retry(letter.record_id)
            except HubError as exc:
                op = "failed"
                outcome["errors"].append(f"{letter.job} {letter.record_id}: {exc}")
            hub.store.finish_run(run.run_id, "ok" if op != "failed" else "partial", dict(run.counts))
        outcome["resolved" if op not in ("failed", "missing") else "failed"] += 1
    metrics.DEAD_LETTERS.set(len(hub.store.dead_letters()))
    return outcome


def discard_dead_letters(hub: Hub, ids: Collection[int], *, actor: str) -> int:
    """Give up on dead letters ``ids``: no longer listed or retried, each discard audited as ``actor``.

    The record is not forgotten by the sync: its next change at the source is read
    and written like any other.
    """
    letters = [d for d in hub.store.dead_letters() if d.id in ids]
    with hub.store.transaction() as conn:
        for d in letters:
            hub.store.resolve_dead_letter(conn, d.job, d.system, d.kind, d.record_id)
            hub.store.audit(
                conn, actor=actor, system=d.system, entity=d.kind, operation="deadletter.discarded",
                record_id=d.record_id, before={"job": d.job, "error": d.error, "attempts": d.attempts},
            )  # fmt: skip
    metrics.DEAD_LETTERS.set(len(hub.store.dead_letters()))
    return len(letters)
