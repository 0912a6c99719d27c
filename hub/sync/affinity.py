"""One CPU for the threads of a sync run (Linux).

A sync overlaps the network waits of its writes with threads, but CPython's interpreter
lock lets only one of them run Python code at a time, however many CPUs the machine has.
Spread over several CPUs, every hand-over of that lock (each socket call of each write
releases it) wakes a thread on another CPU: in the benchmark that was a third of the
run's CPU time, spent in futex wake-ups and context switches (measured with perf and
strace: about 50 futex calls per write). On one CPU a hand-over is an ordinary context
switch, and a thread back from a short socket call usually takes the lock again before
the woken one runs: the 10,000-company run went from 33 s to 23 s.

The run's thread is pinned to the CPU it is on when the run starts; the threads it starts
(the write workers) inherit that, other threads of the process are left alone, and the
previous affinity is restored when the run ends. ``HUB_SYNC_PIN_CPU=false`` turns it off,
e.g. where several hub processes run large syncs at once and might start on one CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def one_cpu(enabled: bool = True) -> Iterator[None]:
    """Keep the calling thread, and the threads it starts, on one CPU for the block."""
    if not enabled or not hasattr(os, "sched_setaffinity"):
        yield
        return
    allowed = os.sched_getaffinity(0)
    cpu = current_cpu()
    if cpu is None or len(allowed) < 2 or cpu not in allowed:
        yield
        return
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:  # e.g. a container's cpuset changed under us: run as before
        log.debug("sync.affinity_unchanged", error=str(exc))
        yield
        return
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)
