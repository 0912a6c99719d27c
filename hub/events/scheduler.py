"""A small cron scheduler for ``hub serve``: sync jobs, polling, workflow timeouts, ticket rules.

Each :class:`Schedule` is a cron expression (croniter, evaluated in UTC) and a
function. :meth:`Scheduler.tick` starts every schedule whose next time has come,
each in its own thread, so a long sync never delays the workflow timeouts.

A schedule never overlaps itself: within the process a due time that comes while
the previous run is still going is skipped (and counted as skipped); across processes
(two ``hub serve`` on one state store) a state-store lock ``schedule:<name>`` does
the same. The last slot started is kept in the state store, so a restart runs a slot
missed while the hub was down once, not once per missed slot.
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
from hub.logging import get_logger
from hub.state.store import JobLocked, StateStore

__all__ = ["Schedule", "Scheduler", "thread_spawn"]

log = get_logger("hub.events.scheduler")

Spawn = Callable[[str, Callable[[], None]], None]


@dataclass(frozen=True)
class Schedule:
    """Run ``run`` at the times of ``cron``."""

    name: str
    cron: str
    run: Callable[[], object]


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
        self.started_at = clock.now()
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
        """Tick until ``stop`` is set, sleeping until the next due time (at most ``max_wait``)."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # the state store was unreachable: try again shortly
                log.error("scheduler tick failed", error=f"{type(exc).__name__}: {exc}")
            stop.wait(min(max_wait, max(self.seconds_to_next(), 0.5)))
