"""The durable event intake: verified webhook events in the state store's ``events`` table.

The receiver stores an event *before* it answers the vendor, so an event the vendor
saw accepted is never lost; everything after (resuming workflows, syncing) works from
this table and may fail and be retried.

Statuses: ``pending`` (stored, not yet processed), ``processing`` (claimed by a worker
until ``next_attempt_at``, its lease), ``done``, ``failed`` (retried at
``next_attempt_at``) and ``dead`` (out of attempts; kept, listed, retried by hand with
``hub events retry``). Claiming is one conditional UPDATE, so a ``hub serve`` process
and Celery workers can share the table without processing an event twice at once.

Deduplication is the ``(connector, event_id)`` unique key: the vendor's event id, or
a hash of the raw body for vendors whose deliveries carry none. A replayed delivery
stores nothing and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock, SystemClock
from hub.connector import Event
from hub.state import tables as t
from hub.state.rows import chunks
from hub.state.store import StateStore

__all__ = ["Delivery", "EventStore", "Intake", "StoredEvent"]

PENDING, PROCESSING, DONE, FAILED, DEAD = "pending", "processing", "done", "failed", "dead"
STATUSES = (PENDING, PROCESSING, DONE, FAILED, DEAD)

#: how long a claimed event belongs to its worker before another may take it over
LEASE = timedelta(minutes=10)


@dataclass
class StoredEvent:
    """One row of the events table."""

    id: int
    connector: str
    event_id: str
    type: str
    entity: str | None
    record_id: str | None
    correlation: dict[str, str]
    data: dict[str, Any]
    status: str
    attempts: int
    error: str | None
    occurred_at: datetime | None
    received_at: datetime
    processed_at: datetime | None
    next_attempt_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> StoredEvent:
        return cls(
            id=row.id,
            connector=row.connector,
            event_id=row.event_id,
            type=row.type,
            entity=row.entity,
            record_id=row.record_id,
            correlation=dict(row.correlation or {}),
            data=dict(row.data or {}),
            status=row.status,
            attempts=row.attempts,
            error=row.error,
            occurred_at=row.occurred_at,
            received_at=row.received_at,
            processed_at=row.processed_at,
            next_attempt_at=row.next_attempt_at,
        )

    def to_event(self) -> Event:
        """The connector's :class:`Event` again, as the processor hands it on."""
        return Event(
            connector=self.connector,
            type=self.type,
            id=self.event_id,
            entity=self.entity,
            record_id=self.record_id,
            occurred_at=self.occurred_at,
            data=self.data,
            correlation=self.correlation,
        )

    def as_dict(self) -> dict[str, Any]:
        """For ``hub events --json`` (the raw body is not listed)."""
        return {
            "id": self.id,
            "connector": self.connector,
            "event_id": self.event_id,
            "type": self.type,
            "entity": self.entity,
            "record_id": self.record_id,
            "correlation": self.correlation,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "occurred_at": self.occurred_at,
            "received_at": self.received_at,
            "processed_at": self.processed_at,
            "next_attempt_at": self.next_attempt_at,
        }


#: one verified webhook delivery: (connector, its parsed events, the raw body)
Delivery = tuple[str, Sequence[Event], bytes]


@dataclass
class Intake:
    """What one delivery left in the store: the new rows and how many were replays."""

    stored: list[int] = field(default_factory=list)
    duplicates: int = 0
    #: the events behind ``stored``, in the same order
    new_events: list[Event] = field(default_factory=list)


def _event_ids(events: Sequence[Event], body: bytes) -> list[str]:
    """Each event's dedup id: the vendor's, else the body hash (indexed if several)."""
    base = Event.body_id(body)
    several = len(events) > 1
    return [e.id or (f"{base}#{i}" if several else base) for i, e in enumerate(events)]


class EventStore:
    """The ``events`` table as the receiver, the processor and the CLI use it."""

    def __init__(self, store: StateStore, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    # -- intake -------------------------------------------------------------------

    def record(self, connector: str, events: Sequence[Event], body: bytes) -> Intake:
        """Store the events of one verified delivery; replays are counted, not stored.

        The raw body is kept once, on the first new row of the delivery: it is what the
        vendor signed, and a delivery with many events must not be stored many times.
        """
        return self.record_batch([(connector, events, body)])[0]

    def record_batch(self, deliveries: Sequence[Delivery]) -> list[Intake]:
        """:meth:`record` for many deliveries in one transaction (the receiver's group
        commits): one look-up of the ids already stored, one multi-row insert."""
        planned = [(connector, events, _event_ids(events, body), body) for connector, events, body in deliveries]
        try:
            return self._insert(planned)
        except IntegrityError:
            # A concurrent delivery of the same event won the insert; this one is a replay.
            return self._insert(planned)

    def _insert(self, planned: list[tuple[str, Sequence[Event], list[str], bytes]]) -> list[Intake]:
        now = self.clock.now()
        intakes = [Intake() for _ in planned]
        wanted: dict[str, list[str]] = {}
        for connector, _events, ids, _body in planned:
            wanted.setdefault(connector, []).extend(ids)
        rows: list[dict[str, Any]] = []
        owners: list[tuple[Intake, Event]] = []
        with self.store.transaction() as conn:
            existing: set[tuple[str, str]] = set()
            for connector, ids in wanted.items():
                for chunk in chunks(ids):
                    existing.update(
                        (connector, str(event_id))
                        for event_id in conn.execute(
                            select(t.events.c.event_id).where(
                                t.events.c.connector == connector, t.events.c.event_id.in_(chunk)
                            )
                        ).scalars()
                    )
            for intake, (connector, events, ids, body) in zip(intakes, planned, strict=True):
                kept_body = False
                for event, event_id in zip(events, ids, strict=True):
                    if (connector, event_id) in existing:
                        intake.duplicates += 1
                        continue
                    existing.add((connector, event_id))
                    rows.append({
                        "connector": connector, "event_id": event_id, "type": event.type, "entity": event.entity,
                        "record_id": event.record_id, "correlation": dict(event.correlation),
                        "data": _jsonable(event.data), "body": None if kept_body else body, "status": PENDING,
                        "attempts": 0, "occurred_at": event.occurred_at, "received_at": now, "next_attempt_at": now,
                    })  # fmt: skip
                    kept_body = True
                    owners.append((intake, event))
            if rows:
                keys = conn.execute(
                    insert(t.events).returning(t.events.c.id, sort_by_parameter_order=True), rows
                ).scalars()
                for (intake, event), key in zip(owners, keys, strict=True):
                    intake.stored.append(int(key))
                    intake.new_events.append(event)
        return intakes

    # -- processing ---------------------------------------------------------------

    def due(self, limit: int = 100) -> list[int]:
        """Ids of events a worker may claim now, oldest first."""
        now = self.clock.now()
        stmt = (
            select(t.events.c.id)
            .where(
                t.events.c.status.in_((PENDING, FAILED, PROCESSING)),
                or_(t.events.c.next_attempt_at.is_(None), t.events.c.next_attempt_at <= now),
            )
            .order_by(t.events.c.id)
            .limit(limit)
        )
        with self.store.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def claim(self, row_id: int) -> StoredEvent | None:
        """Take the event for processing (None if it is not due or someone else has it)."""
        now = self.clock.now()
        with self.store.transaction() as conn:
            claimed = conn.execute(
                update(t.events)
                .where(
                    t.events.c.id == row_id,
                    t.events.c.status.in_((PENDING, FAILED, PROCESSING)),
                    or_(t.events.c.next_attempt_at.is_(None), t.events.c.next_attempt_at <= now),
                )
                .values(status=PROCESSING, attempts=t.events.c.attempts + 1, next_attempt_at=now + LEASE)
            ).rowcount
            if not claimed:
                return None
            row = conn.execute(select(t.events).where(t.events.c.id == row_id)).one()
        return StoredEvent.from_row(row)

    def complete(self, row_id: int) -> None:
        self._set(row_id, status=DONE, error=None, processed_at=self.clock.now(), next_attempt_at=None)

    def fail(self, row_id: int, error: str, retry_at: datetime | None) -> None:
        """Keep the event for another attempt at ``retry_at``, or as dead if None."""
        status = FAILED if retry_at is not None else DEAD
        self._set(
            row_id, status=status, error=error[:4000], processed_at=self.clock.now(), next_attempt_at=retry_at
        )

    def defer(self, row_id: int, until: datetime, reason: str) -> None:
        """Put the event back without counting the attempt (e.g. its sync job was busy)."""
        with self.store.transaction() as conn:
            conn.execute(
                update(t.events)
                .where(t.events.c.id == row_id)
                .values(status=PENDING, attempts=t.events.c.attempts - 1, error=reason, next_attempt_at=until)
            )

    def _set(self, row_id: int, **values: Any) -> None:
        with self.store.transaction() as conn:
            conn.execute(update(t.events).where(t.events.c.id == row_id).values(**values))

    # -- operators ----------------------------------------------------------------

    def retry(self, ids: Iterable[int] = ()) -> list[int]:
        """Make failed and dead events (all, or those of ``ids``) due now; returns their ids."""
        wanted = list(ids)
        now = self.clock.now()
        where = [t.events.c.status.in_((FAILED, DEAD))]
        if wanted:
            where.append(t.events.c.id.in_(wanted))
        with self.store.transaction() as conn:
            found = list(conn.execute(select(t.events.c.id).where(*where).order_by(t.events.c.id)).scalars())
            if found:
                conn.execute(
                    update(t.events)
                    .where(t.events.c.id.in_(found))
                    .values(status=PENDING, next_attempt_at=now)
                )
        return found

    def get(self, row_id: int) -> StoredEvent | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.events).where(t.events.c.id == row_id)).first()
        return StoredEvent.from_row(row) if row is not None else None

    def body(self, row_id: int) -> bytes | None:
        with self.store.engine.connect() as conn:
            return conn.execute(select(t.events.c.body).where(t.events.c.id == row_id)).scalar_one_or_none()

    def recent(
        self,
        limit: int = 50,
        *,
        status: str | None = None,
        type: str | None = None,
        connector: str | None = None,
    ) -> list[StoredEvent]:
        """The newest events first, optionally of one status, type or connector."""
        stmt = select(t.events).order_by(t.events.c.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(t.events.c.status == status)
        if type:
            stmt = stmt.where(t.events.c.type == type)
        if connector:
            stmt = stmt.where(t.events.c.connector == connector)
        with self.store.engine.connect() as conn:
            return [StoredEvent.from_row(r) for r in conn.execute(stmt)]

    def counts(self) -> dict[str, int]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(t.events.c.status, func.count()).group_by(t.events.c.status)).all()
        return {status: int(n) for status, n in rows}


def _jsonable(value: Any) -> Any:
    """Event data as JSON the store accepts (vendor timestamps parsed by a connector become text)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
