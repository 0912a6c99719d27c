"""Group commits for the webhook receiver: many deliveries stored in one transaction.

A request handler must not answer the vendor before its events are durable, and a commit
costs the same for one event as for fifty (on PostgreSQL, the wait for the write-ahead
log to reach the disk). So handlers hand their deliveries to one writer thread and wait:
the writer takes every delivery queued since its last commit, stores them all in one
transaction (:meth:`hub.events.store.EventStore.record_batch`), and answers each waiting
handler. Under light load a batch is one delivery and nothing waits longer than before;
under a burst the batches grow and the commits per second stay few.

After each commit the writer tells ``after_commit`` the new row ids (wake the event
worker, or send them to the Celery ``events`` queue), once per batch. The writer thread
ends after :data:`IDLE` seconds without work and starts again with the next delivery.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from hub.connector import Event
from hub.events.store import Delivery, EventStore, Intake
from hub.logging import get_logger

__all__ = ["GroupCommit"]

log = get_logger("hub.events.intake")

#: seconds a writer thread waits for work before it ends
IDLE = 5.0
#: the most deliveries stored in one transaction
MAX_BATCH = 500

_Item = tuple[Delivery, "Future[Intake]"]


class GroupCommit:
    """One writer thread storing the receiver's deliveries in group commits."""

    def __init__(
        self, events: EventStore, *, after_commit: Callable[[list[int]], None] | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.events = events
        self.after_commit = after_commit
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: how many transactions stored how many deliveries (for tests and the benchmark)
        self.commits = 0
        self.deliveries = 0

    def record(self, connector: str, events: Sequence[Event], body: bytes) -> Future[Intake]:
        """Queue one delivery; the future is answered once it is committed (or failed)."""
        done: Future[Intake] = Future()
        self._queue.put(((connector, events, body), done))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hub-intake", daemon=True)
                self._thread.start()
        return done

    def alive(self) -> bool:
        """Whether the writer can take deliveries (it is running, or starts with the next one)."""
        with self._lock:
            return self._thread is None or self._thread.is_alive()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        try:
            intakes = self.events.record_batch([delivery for delivery, _ in batch])
        except Exception as exc:  # every waiting request answers 500: the vendor delivers again
            for _, done in batch:
                done.set_exception(exc)
            return
        self.commits += 1
        self.deliveries += len(batch)
        for (_, done), intake in zip(batch, intakes, strict=True):
            done.set_result(intake)
        stored = [row for intake in intakes for row in intake.stored]
        if stored and self.after_commit is not None:
            try:
                self.after_commit(stored)
            except Exception as exc:  # stored is stored: the events-retry schedule picks them up
                log.error("stored events not handed on; the retry schedule will", error=f"{type(exc).__name__}: {exc}")
