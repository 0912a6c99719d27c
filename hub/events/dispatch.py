"""Handing work to Celery workers: the queues, the units of work, and how they are sent.

With ``HUB_DISPATCH=celery`` a ``hub serve`` process only receives, stores and schedules;
the work goes to three Celery queues, so a long sync never delays webhook processing:

* ``events``: processing stored webhook events (``hub.process_events``, ids in a batch)
  and the retry of failed ones;
* ``syncs``: sync jobs and the ticket lifecycle rules;
* ``workflows``: advancing workflow runs, the workflow tick (timeouts, reminders,
  stranded runs) and polling.

``hub worker --queues events,workflows`` consumes some of them; by default all three.

Work that must happen once per decision (a schedule's slot, a sync an event asked for)
is first written to the work ledger (:mod:`hub.state.dispatch`) and the message carries
only its row id; events carry their ``events`` row ids and workflow advances their run
id, those tables being their own ledgers. A lost message is sent again by the
scheduler's sweep (the ledger) or picked up by the ``events-retry`` and ``workflow-tick``
schedules (events and runs); a message delivered twice finds its work claimed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hub.clock import Clock
from hub.logging import get_logger
from hub.state.dispatch import Dispatch, WorkLedger

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["QUEUES", "CeleryDispatcher", "Dispatcher", "Work", "parse_queues"]

log = get_logger("hub.events.dispatch")

#: the Celery queues of the hub, in the order a worker consumes them by default
QUEUES = ("events", "syncs", "workflows")
#: the queue of each unit of work a schedule or an event asks for
TASK_QUEUES = {
    "sync": "syncs",
    "lifecycle": "syncs",
    "workflow.tick": "workflows",
    "workflow.poll": "workflows",
    "events.retry": "events",
}
#: event rows per ``hub.process_events`` message
EVENT_BATCH = 50


@dataclass(frozen=True)
class Work:
    """A unit of work a worker can run from the ledger: ``task`` with ``args``."""

    task: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def queue(self) -> str:
        return TASK_QUEUES[self.task]


def parse_queues(value: str | None) -> list[str]:
    """``--queues``: comma-separated names of :data:`QUEUES` (all of them when empty)."""
    names = [q.strip() for q in (value or "").split(",") if q.strip()]
    unknown = [q for q in names if q not in QUEUES]
    if unknown:
        from hub.errors import ConfigError

        raise ConfigError(f"--queues: unknown queue {unknown[0]!r}; queues: {', '.join(QUEUES)}")
    return names or list(QUEUES)


class Dispatcher(Protocol):
    """Where ``hub serve`` sends work in Celery mode (a fake in tests)."""

    def send_events(self, ids: Sequence[int]) -> None:
        """Have stored events processed."""
        ...

    def send_work(self, rows: Sequence[Dispatch]) -> None:
        """Have ledger rows run (each on its queue)."""
        ...

    def send_advance(self, run_id: str) -> None:
        """Have a workflow run advanced."""
        ...

    def request(self, work: Work) -> int | None:
        """Write ``work`` to the ledger (unless the same work already waits to start) and send it."""
        ...


class CeleryDispatcher:
    """Sends messages to the Celery queues of ``app`` for the rows of ``ledger``."""

    def __init__(self, app: Celery, ledger: WorkLedger, clock: Clock) -> None:
        self.app = app
        self.ledger = ledger
        self.clock = clock

    def send_events(self, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), EVENT_BATCH):
            self.app.send_task("hub.process_events", args=[list(ids[start : start + EVENT_BATCH])], queue="events")

    def send_work(self, rows: Sequence[Dispatch]) -> None:
        sent: list[int] = []
        try:
            for row in rows:
                self.app.send_task("hub.run_work", args=[row.id], queue=row.queue)
                sent.append(row.id)
        finally:
            # what was not sent stays pending: the next sweep sends it
            self.ledger.mark_sent(sent, self.clock.now())

    def send_advance(self, run_id: str) -> None:
        self.app.send_task("hub.advance_workflow", args=[run_id], queue="workflows")

    def request(self, work: Work) -> int | None:
        now = self.clock.now()
        with self.ledger.engine.begin() as conn:
            if self.ledger.open_like(conn, work.task, work.args):
                return None
            row_id = self.ledger.add(conn, key=f"{work.task}:{uuid.uuid4()}", task=work.task, args=work.args,
                                     queue=work.queue, now=now)  # fmt: skip
        row = self.ledger.get(row_id) if row_id is not None else None
        if row is not None:
            try:
                self.send_work([row])
            except Exception as exc:  # the broker is down: the row is kept, the scheduler's sweep sends it
                log.warning("work not sent yet; it is kept and sent later", task=work.task,
                            error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        return row_id
