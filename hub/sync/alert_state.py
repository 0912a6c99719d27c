"""The ``alert_tickets`` table: which PSA ticket stands for which occurrence of an RMM problem.

One row per occurrence of a problem (its ``dedup_key``); the newest row of a key is
its current state:

* ``creating`` - the hub is about to create the ticket (committed *before* the create,
  so a crash between the create and the next commit leaves a trace to recover from);
* ``open`` - the ticket exists (``ticket_id``) and the alert is active;
* ``cleared`` - the alert left the RMM's list at ``cleared_at``. A return within the
  reopen window reopens or notes the same ticket; a later return is a new occurrence
  with a new row and a new ticket. Older rows stay, so a crash recovery knows every
  ticket earlier occurrences had and never adopts one of them.

``hub_status`` is the ticket status the hub itself set last: a ticket still in it (and
not assigned to anyone) has not been worked by a person.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from hub.state import tables as t
from hub.state.store import StateStore

__all__ = ["CLEARED", "CREATING", "OPEN", "AlertTicket", "AlertTickets"]

CREATING, OPEN, CLEARED = "creating", "open", "cleared"


@dataclass(frozen=True)
class AlertTicket:
    id: int
    dedup_key: str
    state: str
    ticket_id: str | None
    alert_id: str | None
    severity: str
    hub_status: str | None
    opened_at: datetime
    cleared_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> AlertTicket:
        m = row._mapping
        return cls(m["id"], m["dedup_key"], m["state"], m["ticket_id"], m["alert_id"], m["severity"],
                   m["hub_status"], m["opened_at"], m["cleared_at"])  # fmt: skip


class AlertTickets:
    """The rows of one job (``rmm-alerts``), read and written through the state store's engine."""

    def __init__(self, store: StateStore, job: str) -> None:
        self.store = store
        self.job = job
        self._t = t.alert_tickets

    def current(self, key: str) -> AlertTicket | None:
        """The newest occurrence of ``key``, if the hub has seen it before."""
        stmt = (
            select(self._t)
            .where(self._t.c.job == self.job, self._t.c.dedup_key == key)
            .order_by(self._t.c.id.desc())
            .limit(1)
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return AlertTicket.from_row(row) if row else None

    def known_tickets(self, key: str) -> set[str]:
        """Every ticket any occurrence of ``key`` has had."""
        stmt = select(self._t.c.ticket_id).where(
            self._t.c.job == self.job, self._t.c.dedup_key == key, self._t.c.ticket_id.is_not(None)
        )
        with self.store.engine.connect() as conn:
            return {str(v) for v in conn.execute(stmt).scalars()}

    def with_state(self, *states: str) -> Iterator[AlertTicket]:
        stmt = select(self._t).where(self._t.c.job == self.job, self._t.c.state.in_(states)).order_by(self._t.c.id)
        with self.store.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        for row in rows:
            yield AlertTicket.from_row(row)

    def begin(self, key: str, alert_id: str | None, severity: str, now: datetime) -> int:
        """Record that a ticket for ``key`` is about to be created (committed at once)."""
        with self.store.transaction() as conn:
            result = conn.execute(
                insert(self._t).values(
                    job=self.job, dedup_key=key, state=CREATING, ticket_id=None, alert_id=alert_id,
                    severity=severity, hub_status=None, opened_at=now, cleared_at=None, updated_at=now,
                )
            )  # fmt: skip
            inserted = result.inserted_primary_key
            assert inserted is not None
            return int(inserted[0])

    def set(self, conn: Connection, row_id: int, now: datetime, **values: Any) -> None:
        conn.execute(update(self._t).where(self._t.c.id == row_id).values(updated_at=now, **values))

    def drop(self, conn: Connection, row_id: int) -> None:
        """Forget a ``creating`` row whose ticket was never created."""
        conn.execute(delete(self._t).where(self._t.c.id == row_id))
