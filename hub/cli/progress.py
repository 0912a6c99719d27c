"""What a running sync shows on stderr, so a long run never looks hung.

The engine hands a :class:`~hub.sync.engine.SyncProgress` over after every page (one
reference assignment here, no lock, no I/O on the sync's threads). A display thread
reads the latest one together with the connectors' rate limiters and says what the run
is doing: records read (of how many, where the vendor says), writes done of those
planned, the wait for a vendor's budget ("waiting 212 s for itglue's budget") and an
estimate of the time left. On a terminal it is one live line; elsewhere (cron, CI, a
pipe) a ``sync.progress`` log line every 30 seconds.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from hub.logging import get_logger
from hub.sync.engine import SyncProgress

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["SyncDisplay", "duration", "show_interrupted"]

log = get_logger("hub.sync")


def duration(seconds: float) -> str:
    """``212 s``, ``14 min``, ``2 h 5 min``: rounded the way a person reads a wait."""
    seconds = max(0.0, seconds)
    if seconds < 600:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


class SyncDisplay:
    """The progress of one run of ``job``: call it with each :class:`SyncProgress`, and
    use it as a context manager around the run."""

    def __init__(self, hub: Hub, job: str, console: Console, *, live: bool, interval: float = 30.0) -> None:
        self.hub = hub
        self.job = job
        self.console = console
        self.live = live
        self.interval = interval
        self.latest: SyncProgress | None = None
        self._step: str | None = None
        self._step_started = hub.clock.monotonic()
        self._started = self._step_started
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live | None = None

    def __call__(self, progress: SyncProgress) -> None:
        """From the sync's thread, after each page: keep the newest, nothing more."""
        if progress.step != self._step:
            self._step, self._step_started = progress.step, self.hub.clock.monotonic()
        self.latest = progress

    def describe(self) -> str:
        """One line: where the run stands, what holds it back, how long it may still take."""
        now = self.hub.clock.monotonic()
        p = self.latest
        parts = [self.job]
        if p is None:
            parts.append("starting")
        else:
            parts.append(p.step)
            parts.append(f"read {p.read:,}" + (f" of {p.total:,}" if p.total is not None else ""))
            if p.dry_run:
                parts.append(f"{p.planned:,} writes planned (dry run: none sent)")
            elif p.planned:
                parts.append(f"written {p.written:,} of {p.planned:,} planned")
            if p.counts.get("failed"):
                parts.append(f"failed {p.counts['failed']:,}")
        waits = self.hub.budget_waits()
        for name, (seconds, rate) in sorted(waits.items()):
            if seconds >= 1 or not rate:
                parts.append(f"waiting {duration(seconds)} for {name}'s budget")
            else:  # many short waits: the run goes at the budget's pace
                parts.append(f"paced by {name}'s budget ({rate:g} requests/s)")
        parts.append(self._estimate(p, now, waits))
        parts.append(f"elapsed {duration(now - self._started)}")
        return " · ".join(parts)

    def _estimate(self, p: SyncProgress | None, now: float, waits: dict[str, tuple[float, float | None]]) -> str:
        """Time left: the records still to read at the pace so far (where the total is
        known), or at least the writes still planned at the slowest budget that holds the
        run back."""
        if p is None:
            return "time left unknown"
        elapsed = now - self._step_started
        pending = 0 if p.dry_run else max(0, p.planned - p.written)
        budget = 0.0
        for seconds, rate in waits.values():
            budget = max(budget, seconds + (pending / rate if rate else 0.0))
        if p.total is not None and p.read and elapsed > 0:
            left = max(0, p.total - p.read) * elapsed / p.read
            return f"about {duration(max(left, budget))} left"
        if budget:
            return f"at least {duration(budget)} left"
        return "time left unknown (the source does not say how many records it has)"

    def __rich__(self) -> Text:
        return Text(self.describe(), overflow="ellipsis", no_wrap=True)

    def _report(self) -> None:
        while not self._stop.wait(self.interval):
            log.info("sync.progress", job=self.job, detail=self.describe())

    def __enter__(self) -> SyncDisplay:
        if self.live:
            self._live = Live(self, console=self.console, refresh_per_second=2, transient=True)
            self._live.start()
        else:
            self._thread = threading.Thread(target=self._report, name="hub-sync-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def show_interrupted(summary: dict[str, Any]) -> str:
    """What to tell a person who pressed Ctrl-C: what was done, and that a rerun resumes."""
    done = ", ".join(f"{k} {summary[k]}" for k in ("read", "created", "updated", "unchanged", "failed"))
    return (f"{summary['job']}: interrupted - {done} so far; everything up to the last checkpoint is saved: "
            f"`hub sync {summary['job']}` resumes from there")  # fmt: skip
