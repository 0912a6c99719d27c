"""One CPU for the threads of a sync run (Linux).

A sync overlaps the network waits of its writes with threads, but CPython's interpreter
lock lets only one of them run Python code at a time, however many CPUs the machine has.
Spread over several CPUs, every hand-over of that lock (each socket call of each write
releases it) wakes a thread on another CPU: in the benchmark that was a third of the
run's CPU time, spent in futex wake-ups and context switches (measured with perf and
strace: about 50 futex calls per write). On one CPU a hand-over is an ordinary context
switch, and a thread back from a short socket call usually takes the lock again before
the woken one runs: the 10,000-company run went from 33 s to 23 s.

The run's thread is pinned to one CPU, preferably the one it is on; the threads it starts
(the write workers) inherit that, other threads of the process are left alone, and the
previous affinity is restored when the run ends. A pinned run cannot move away from a
busy CPU, so two pinned runs on one machine (Celery workers started together, a
scheduled sync beside one started by hand) must not share one: each claims its CPU with
an advisory lock on a file in the temporary folder, held for the run and dropped by the
kernel if the process dies. When every CPU is claimed the run is not pinned.
``HUB_SYNC_PIN_CPU=false`` turns all of this off.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from hub.logging import get_logger

__all__ = ["current_cpu", "one_cpu"]

log = get_logger(__name__)


def current_cpu() -> int | None:
    """The CPU the calling thread last ran on (Linux ``/proc``), or None if unknown."""
    try:
        with open("/proc/thread-self/stat", encoding="ascii") as f:
            stat = f.read()
        # fields after the command name (which may hold spaces), from field 3; the CPU is field 39
        return int(stat.rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None


def _lock_dir() -> Path:
    return Path(tempfile.gettempdir())


def _claim(cpu: int) -> IO[str] | None:
    """This run's claim on ``cpu`` (an open, locked file), or None if another run holds it
    (or the lock file cannot be opened, e.g. another user's)."""
    try:
        handle = open(_lock_dir() / f"msp-hub-cpu{cpu}.lock", "a")  # held for the run
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _claim_first(cpus: list[int]) -> tuple[int, IO[str]] | None:
    """The first of ``cpus`` that no other run holds, with this run's claim on it."""
    for cpu in cpus:
        claim = _claim(cpu)
        if claim is not None:
            return cpu, claim
    return None


@contextmanager
def one_cpu(enabled: bool = True) -> Iterator[None]:
    """Keep the calling thread, and the threads it starts, on one unclaimed CPU for the block."""
    if not enabled or not hasattr(os, "sched_setaffinity"):
        yield
        return
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        yield
        return
    here = current_cpu()
    claimed = _claim_first(sorted(allowed, key=lambda c: (c != here, c)))  # the CPU it is on first
    if claimed is None:
        log.debug("sync.affinity_unchanged", reason="every CPU is claimed by another pinned run")
        yield
        return
    cpu, claim = claimed
    try:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError as exc:  # e.g. a container's cpuset changed under us: run as before
            log.debug("sync.affinity_unchanged", reason=str(exc))
            yield
            return
        try:
            yield
        finally:
            os.sched_setaffinity(0, allowed)
    finally:
        claim.close()
