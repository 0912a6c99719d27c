"""A small cron scheduler for ``hub serve``: sync jobs, polling, workflow timeouts, ticket rules.

Each :class:`Schedule` is a cron expression (croniter, evaluated in UTC) and what it runs.
:meth:`Scheduler.tick` starts every schedule whose next time has come.

**One scheduler.** Several ``hub serve`` processes may share a state store (for the
receiver's availability); only one of them schedules: the one holding the leader lease
``scheduler`` (:mod:`hub.state.leases`: a heartbeat, a fencing token, and on PostgreSQL a
session advisory lock the server frees when the process dies). The others stand by and
try again every :data:`STANDBY_POLL` seconds; one takes over as soon as the leader's
process is gone (at once on its host, when the lease expires elsewhere). A leader lease
rather than a guarded Celery beat: the slots are decided where the state store is, in
the same transaction as the work they start, so a leader killed mid-tick loses and
repeats nothing, and no other process (beat) is needed.

**Where a run executes.** Without a dispatcher (one process, ``HUB_DISPATCH=inline``) a
due schedule runs in a thread of its own (``spawn``), so a long sync never delays the
workflow timeouts. With one (``HUB_DISPATCH=celery``) the slot is recorded and its unit
of work added to the work ledger (:mod:`hub.state.dispatch`) in one transaction, fenced
by the leader lease, and only then sent to the workers' queue; every tick also sends
again what the ledger holds unsent, or lost with a worker that died.

A schedule never overlaps itself: within the process a due time that comes while the
previous run is still going is skipped (and counted as skipped); across processes a
state-store lock ``schedule:<name>`` does the same. The last slot started is kept in the
state store, so a restart runs a slot missed while the hub was down once, not once per
missed slot.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

from hub import metrics
from hub.clock import Clock
from hub.connector import KeyValueStore
from hub.events.dispatch import Dispatcher, Work
from hub.logging import get_logger
from hub.state.leases import Lease
from hub.state.store import JobLocked, StateStore

__all__ = ["LEADER", "Schedule", "Scheduler", "thread_spawn"]

log = get_logger("hub.events.scheduler")

Spawn = Callable[[str, Callable[[], None]], None]

#: the lease the scheduling ``hub serve`` holds
LEADER = "scheduler"
#: seconds between a standby scheduler's tries to take the lead
STANDBY_POLL = 5.0


@dataclass(frozen=True)
class Schedule:
    """Run ``run`` at the times of ``cron``; ``work`` is the same as a unit of the work ledger."""

    name: str
    cron: str
    run: Callable[[], object]
    work: Work | None = None


def thread_spawn(name: str, fn: Callable[[], None]) -> None:
    """Run ``fn`` in a daemon thread named after its schedule."""
    threading.Thread(target=fn, name=f"schedule:{name}", daemon=True).start()


def _slot(cron: str, now: datetime) -> datetime:
    """The latest time of ``cron`` at or before ``now``."""
    base = now.replace(microsecond=0) + timedelta(seconds=1)
    slot: datetime = croniter(cron, base).get_prev(datetime)
    return slot


class Scheduler:
    """Starts due schedules; ``spawn`` decides where a run executes (a thread, or inline in tests)."""

    def __init__(
        self,
        schedules: Sequence[Schedule],
        *,
        clock: Clock,
        state: KeyValueStore,
        store: StateStore | None = None,
        spawn: Spawn = thread_spawn,
        dispatcher: Dispatcher | None = None,
        namespace: str = "schedules",
    ) -> None:
        names = [s.name for s in schedules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"schedule names must be unique: {', '.join(duplicates)}")
        self.schedules = list(schedules)
        self.clock = clock
        self.state = state
        self.store = store
        self.spawn = spawn
        self.dispatcher = dispatcher
        #: the kv namespace of ``state`` (the slots are written in the ledger's transaction)
        self.namespace = namespace
        self.started_at = clock.now()
        #: the leader lease while this process schedules (None: standing by, or no store)
        self.lease: Lease | None = None
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def next_time(self, schedule: Schedule) -> datetime:
        """When ``schedule`` runs next (may be in the past: then it is due)."""
        last = self.state.get(schedule.name)
        base = datetime.fromisoformat(last) if last else self.started_at
        nxt: datetime = croniter(schedule.cron, base).get_next(datetime)
        return nxt

    def tick(self) -> list[str]:
        """Start every due schedule that is not still running; the names started."""
        now = self.clock.now()
        if self.dispatcher is not None and self.store is not None:
            return self._dispatch_due(now, self.dispatcher, self.store)
        started: list[str] = []
        for schedule in self.schedules:
            if self.next_time(schedule) > now:
                continue
            self.state.set(schedule.name, _slot(schedule.cron, now).isoformat())
            with self._lock:
                busy = schedule.name in self._running
                if not busy:
                    self._running.add(schedule.name)
            if busy:
                metrics.SCHEDULE_RUNS.labels(schedule=schedule.name, outcome="skipped").inc()
                log.warning("schedule skipped: its previous run is still going", schedule=schedule.name)
                continue
            started.append(schedule.name)
            self.spawn(schedule.name, functools.partial(self._run, schedule))
        return started

    def _dispatch_due(self, now: datetime, dispatcher: Dispatcher, store: StateStore) -> list[str]:
        """Celery mode: each due slot and its ledger row in one transaction fenced by the
        leader lease, then sent; and whatever the ledger holds unsent, sent again."""
        started: list[str] = []
        for schedule in self.schedules:
            if schedule.work is None or self.next_time(schedule) > now:
                continue
            slot = _slot(schedule.cron, now).isoformat()
            work = schedule.work
            with store.transaction() as conn:
                if self.lease is not None:
                    self.lease.check(conn)
                store.kv_set(conn, self.namespace, schedule.name, slot)
                added = store.work.add(conn, key=f"schedule:{schedule.name}:{slot}", task=work.task,
                                       args=work.args, queue=work.queue, now=now)  # fmt: skip
            if added is not None:
                started.append(schedule.name)
                metrics.SCHEDULE_RUNS.labels(schedule=schedule.name, outcome="dispatched").inc()
        try:
            dispatcher.send_work(store.work.to_send(now))
        except Exception as exc:  # the broker is down: the rows stay in the ledger for the next tick
            log.error("work not sent; the next tick tries again", error=f"{type(exc).__name__}: {exc}")
        return started

    def running(self) -> set[str]:
        with self._lock:
            return set(self._running)

    def _run(self, schedule: Schedule) -> None:
        try:
            if self.store is not None:
                with self.store.lock(f"schedule:{schedule.name}"):
                    schedule.run()
            else:
                schedule.run()
        except JobLocked as exc:
            metrics.SCHEDULE_RUNS.labels(schedule=schedule.name, outcome="skipped").inc()
            log.warning("schedule skipped: running elsewhere", schedule=schedule.name, reason=str(exc))
        except Exception as exc:  # a failed run is reported; the next slot runs again
            metrics.SCHEDULE_RUNS.labels(schedule=schedule.name, outcome="failed").inc()
            log.error("scheduled run failed", schedule=schedule.name, error=f"{type(exc).__name__}: {exc}")
        else:
            metrics.SCHEDULE_RUNS.labels(schedule=schedule.name, outcome="ok").inc()
        finally:
            with self._lock:
                self._running.discard(schedule.name)

    def seconds_to_next(self) -> float:
        """Seconds until the earliest next time (0 if one is due now)."""
        if not self.schedules:
            return float("inf")
        now = self.clock.now()
        return max(0.0, min((self.next_time(s) - now).total_seconds() for s in self.schedules))

    def run_forever(self, stop: threading.Event, max_wait: float = 30.0) -> None:
        """Tick until ``stop`` is set, sleeping until the next due time (at most ``max_wait``);
        with a state store, only while this process holds the leader lease."""
        if self.store is None:
            self._tick_until(stop, max_wait)
            return
        while not stop.is_set():
            try:
                with self.store.leases.hold(LEADER) as lease:
                    self.lease = lease
                    metrics.SCHEDULER_LEADER.set(1)
                    log.info("scheduler: this process schedules")
                    self._tick_until(stop, max_wait, lease)
                    if lease.lost.is_set():
                        log.warning("scheduler: the leader lease was lost; standing by")
            except JobLocked:
                pass
            except Exception as exc:  # the state store was unreachable: try again shortly
                log.error("scheduler could not take the lead", error=f"{type(exc).__name__}: {exc}")
            finally:
                self.lease = None
                metrics.SCHEDULER_LEADER.set(0)
            stop.wait(STANDBY_POLL)

    def _tick_until(self, stop: threading.Event, max_wait: float, lease: Lease | None = None) -> None:
        while not stop.is_set() and (lease is None or not lease.lost.is_set()):
            try:
                self.tick()
            except Exception as exc:  # the state store was unreachable: try again shortly
                log.error("scheduler tick failed", error=f"{type(exc).__name__}: {exc}")
            wait = max(self.seconds_to_next(), 0.5)
            if self.dispatcher is not None:  # the sweep of the ledger runs every few seconds
                wait = min(wait, STANDBY_POLL)
            stop.wait(min(max_wait, wait))
