"""Processing stored events: resume the workflows waiting on them, sync what they changed.

The processor works only from the events table (:class:`EventStore`), after the
receiver has answered the vendor. For each batch of due events it

1. claims each event (so two workers never process one at the same time);
2. reports a vendor's webhook-deactivation notice (:data:`DEACTIVATED`): logged at
   error, counted, and kept in the table where ``hub events`` lists it;
3. hands the event to the workflow engine (``handle_event`` resumes the steps
   waiting on it, correlated by envelope, ticket or contact id) and, for an event
   about a ticket, re-checks the ticket lifecycle rules for that ticket;
4. runs each sync job the batch touches *once* (fifty ticket updates in a burst are
   one incremental sync, not fifty), or with Celery workers asks for it on the syncs
   queue (``request_sync``: one request while one already waits to start);
5. marks each event done, or failed with its error and a retry time that doubles
   with each attempt (``event_retry_seconds``, capped at an hour), or dead after
   ``event_max_attempts``. A sync job busy with another run puts its events back
   without counting an attempt.

A retried event runs steps 3 and 4 again: the workflow engine must treat resuming a
step that no longer waits as a no-op (it does not wait any more, so nothing matches),
and an incremental sync is idempotent by design.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub import metrics
from hub.clock import Clock
from hub.connector import Connector, Event
from hub.errors import ConfigError
from hub.events.lifecycle import LifecycleRules
from hub.events.routing import jobs_for_event
from hub.events.runners import SyncRunner, WorkflowPort, run_sync
from hub.events.store import EventStore, StoredEvent
from hub.logging import get_logger
from hub.state.store import JobLocked

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["DEACTIVATED", "DrainResult", "EventProcessor"]

#: the event type a connector emits for the vendor's "your webhook was deactivated" notice
DEACTIVATED = "webhook.deactivated"
#: the correlation key of an event about a ticket (re-checks the lifecycle rules)
TICKET_KEY = "ticket_id"
RETRY_CAP = timedelta(hours=1)
#: how long events wait when their sync job is busy with another run
BUSY_DELAY = timedelta(seconds=30)

log = get_logger("hub.events")


@dataclass
class DrainResult:
    """What one pass over the due events did."""

    processed: int = 0
    failed: int = 0
    deferred: int = 0
    resumed_runs: list[str] = field(default_factory=list)
    synced: dict[str, str] = field(default_factory=dict)


class EventProcessor:
    """Processes due events with the engines it is given (fakes in tests)."""

    def __init__(
        self,
        hub: Hub,
        events: EventStore,
        *,
        workflow: WorkflowPort | None,
        sync: SyncRunner | None,
        lifecycle: LifecycleRules | None = None,
        clock: Clock | None = None,
        max_attempts: int | None = None,
        retry_seconds: float | None = None,
        request_sync: Callable[[str], object] | None = None,
    ) -> None:
        self.hub = hub
        #: with Celery workers: asks for a sync on the syncs queue instead of running it here
        self.request_sync = request_sync
        self.events = events
        self.workflow = workflow
        self.sync = sync
        self.lifecycle = lifecycle
        self.clock = clock or events.clock
        self.max_attempts = max_attempts or hub.settings.event_max_attempts
        self.retry_seconds = retry_seconds or hub.settings.event_retry_seconds

    def drain(self, limit: int = 100) -> DrainResult:
        """Process every due event, in batches of ``limit``, until none is due."""
        total = DrainResult()
        while True:
            ids = self.events.due(limit)
            claimed = [e for e in (self.events.claim(i) for i in ids) if e is not None]
            if not claimed:
                return total
            batch = self._process(claimed)
            total.processed += batch.processed
            total.failed += batch.failed
            total.deferred += batch.deferred
            total.resumed_runs += batch.resumed_runs
            total.synced.update(batch.synced)
            if batch.processed + batch.failed == 0:
                return total  # everything deferred: do not spin on busy jobs

    def process(self, row_id: int) -> DrainResult:
        """Process one stored event now if it is due (the Celery task's body)."""
        event = self.events.claim(row_id)
        return self._process([event]) if event is not None else DrainResult()

    # -- one batch --------------------------------------------------------------------

    def _process(self, batch: list[StoredEvent]) -> DrainResult:
        result = DrainResult()
        errors: dict[int, str] = {}
        needs: dict[str, list[int]] = {}
        jobs = self._jobs()
        for stored in batch:
            event = stored.to_event()
            if event.type == DEACTIVATED:
                self._report_deactivation(event)
                continue
            try:
                result.resumed_runs += self._handle(event)
                for job in jobs_for_event(event, jobs, self._connector_class(event.connector), self._table()):
                    needs.setdefault(job, []).append(stored.id)
            except Exception as exc:  # one event's failure is kept on that event, never lost
                errors[stored.id] = _line(exc)
        deferred: set[int] = set()
        for job, ids in needs.items():
            live = [i for i in ids if i not in errors]
            if not live or self.sync is None:
                continue
            if self.request_sync is not None:
                try:
                    self.request_sync(job)
                except Exception as exc:  # the ledger was unreachable: the events are retried
                    for i in live:
                        errors[i] = f"sync {job}: {_line(exc)}"
                    continue
                result.synced[job] = "requested"
                continue
            try:
                summary = run_sync(self.hub, self.sync, job, trigger="event")
            except JobLocked as exc:
                deferred.update(live)
                for i in live:
                    self.events.defer(i, self.clock.now() + BUSY_DELAY, str(exc))
                continue
            except Exception as exc:
                for i in live:
                    errors[i] = f"sync {job}: {_line(exc)}"
                continue
            result.synced[job] = str(summary.get("status", "ok"))
            if summary.get("status") == "failed":
                for i in live:
                    errors[i] = f"sync {job} failed"
        for stored in batch:
            if stored.id in deferred and stored.id not in errors:
                result.deferred += 1
            elif stored.id in errors:
                self._fail(stored, errors[stored.id])
                result.failed += 1
            else:
                self.events.complete(stored.id)
                metrics.EVENTS.labels(connector=stored.connector, outcome="processed").inc()
                lag = (self.clock.now() - stored.received_at).total_seconds()
                metrics.EVENT_LAG.labels(connector=stored.connector).observe(max(lag, 0.0))
                result.processed += 1
        return result

    @staticmethod
    def _report_deactivation(event: Event) -> None:
        metrics.WEBHOOK_DEACTIVATIONS.labels(connector=event.connector).inc()
        log.error(
            "vendor deactivated a webhook; run `hub webhooks register` once the receiver is reachable",
            connector=event.connector,
            entity=event.entity,
            webhook=event.record_id,
        )

    def _handle(self, event: Event) -> list[str]:
        resumed = self.workflow.handle_event(event) if self.workflow is not None else []
        ticket_id = event.correlation.get(TICKET_KEY)
        if self.lifecycle is not None and ticket_id and event.connector == self.lifecycle.port.system:
            self.lifecycle.check_ticket(ticket_id)
        if resumed:
            log.info("event resumed workflow runs", connector=event.connector, type=event.type, runs=resumed)
        return list(resumed)

    def _fail(self, stored: StoredEvent, error: str) -> None:
        if stored.attempts >= self.max_attempts:
            self.events.fail(stored.id, error, None)
            metrics.EVENTS.labels(connector=stored.connector, outcome="dead").inc()
            log.error(
                "event is dead after its last attempt",
                event_row=stored.id,
                attempts=stored.attempts,
                error=error,
            )
            return
        delay = min(timedelta(seconds=self.retry_seconds * 2 ** (stored.attempts - 1)), RETRY_CAP)
        retry_at: datetime = self.clock.now() + delay
        self.events.fail(stored.id, error, retry_at)
        metrics.EVENTS.labels(connector=stored.connector, outcome="failed").inc()
        log.warning(
            "event processing failed; will retry", event_row=stored.id, attempts=stored.attempts, error=error
        )

    # -- lookups ------------------------------------------------------------------------

    def _jobs(self) -> Mapping[str, Any]:
        return self.hub.plugins.jobs() if self.sync is not None else {}

    def _table(self) -> Mapping[str, Mapping[str, list[str]]]:
        return self.hub.settings.event_streams

    def _connector_class(self, name: str) -> type[Connector] | None:
        try:
            return self.hub.plugins.connector_class(name)
        except ConfigError:
            return None


def _line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
