"""Work the console starts in the background: sync runs, compliance checks, connector checks.

A person clicks "Run now" and gets the page back at once; the task runs in a worker
thread and its progress (records read per step) is shown live until it ends. Tasks
live in this process's memory: what they did is in the state store (the sync run,
the audit log, the stored compliance result), and only the live progress of a task
is lost if ``hub serve`` stops.

Tests run tasks inline (``inline=True``) so that nothing depends on timing.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.errors import HubError
from hub.logging import get_logger

__all__ = ["Task", "TaskRunner"]

log = get_logger("hub.web")

#: finished tasks kept for their pages (the oldest go first)
KEEP = 100


@dataclass
class Task:
    id: int
    kind: str
    label: str
    started_by: str
    started_at: datetime
    state: str = "running"  # running, done, failed
    #: step label -> records read so far
    progress: dict[str, int] = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    finished_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def steps(self) -> list[tuple[str, int]]:
        """The progress so far (a copy: the worker thread adds steps while a page shows them)."""
        return list(self.progress.items())


class TaskRunner:
    """A few worker threads and the tasks they ran, newest first."""

    def __init__(self, *, workers: int = 2, inline: bool = False) -> None:
        self.inline = inline
        self._pool = None if inline else ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-console")
        self._tasks: OrderedDict[int, Task] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, kind: str, label: str, who: str, work: Callable[[Task], Any]) -> Task:
        """Run ``work(task)`` in the background; its return value becomes ``task.result``."""
        task = Task(next(self._ids), kind, label, who, datetime.now(UTC))
        with self._lock:
            self._tasks[task.id] = task
            while len(self._tasks) > KEEP:
                oldest = next(iter(self._tasks))
                if self._tasks[oldest].running:
                    break
                self._tasks.pop(oldest)
        if self._pool is None:
            self._run(task, work)
        else:
            self._pool.submit(self._run, task, work)
        return task

    @staticmethod
    def _run(task: Task, work: Callable[[Task], Any]) -> None:
        try:
            task.result = work(task)
            task.state = "done"
        except HubError as exc:
            task.error, task.state = str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "failed"
        except Exception as exc:  # a bug must not kill the worker thread silently
            log.error("console task failed", task=task.label, error=f"{type(exc).__name__}: {exc}")
            task.error, task.state = f"internal error ({type(exc).__name__}); see the server log", "failed"
        task.finished_at = datetime.now(UTC)

    def get(self, task_id: int) -> Task | None:
        return self._tasks.get(task_id)

    def recent(self, kind: str | None = None) -> list[Task]:
        with self._lock:
            tasks = list(self._tasks.values())
        return [t for t in reversed(tasks) if kind is None or t.kind == kind]

    def running(self, kind: str, label: str) -> Task | None:
        return next((t for t in self.recent(kind) if t.label == label and t.running), None)

    def call(self, fn: Callable[[], Any], wait: float, *, started: threading.Event | None = None) -> Future[Any]:
        """Run ``fn`` in a worker and wait up to ``wait`` seconds for it (or for ``started``).

        For a workflow action the person waits on: short ones finish before the page is
        answered; a long one goes on in the background and the run's page shows it live.
        """
        future: Future[Any] = Future()
        if self._pool is None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
            return future
        future = self._pool.submit(fn)
        signal = started or threading.Event()
        future.add_done_callback(lambda _f: signal.set())
        signal.wait(wait)
        return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
