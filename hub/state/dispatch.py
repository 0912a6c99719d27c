"""The work ledger of scale-out: the units of work handed to Celery workers (``dispatches``).

A message on a broker can be lost (the process that was to send it died, the broker was
restarted) or delivered twice (a worker died before acknowledging it). Neither may lose or
repeat work, so the message carries only a row id of this table, and the row says what
is to be done and how far it got:

* **once per key.** A row is added under a unique key (``schedule:<name>:<slot>`` for a
  schedule's slot), in the same transaction as the decision that asked for it: however
  many schedulers looked at the slot, one row exists.
* **claimed by one worker.** A worker runs a row only after one conditional update moved
  it from ``pending``/``sent`` to ``running`` under its process identity; a second
  delivery of the message finds it taken and does nothing.
* **sent again when lost.** Rows never sent, sent long ago and still not started, or
  running in a worker that is gone (a process of this host that no longer runs, or no
  heartbeat for :data:`STALE`) are handed out again by the scheduler's sweep
  (:meth:`WorkLedger.to_send`). Whatever they run must be safe to run again after a
  crash, as every unit of the hub is (syncs resume from their checkpoints).

Statuses: ``pending`` -> ``sent`` -> ``running`` -> ``done`` | ``failed`` | ``skipped``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.state import tables as t
from hub.state.leases import ProcessIdentity

__all__ = ["OPEN", "STALE", "Dispatch", "WorkLedger"]

PENDING, SENT, RUNNING, DONE, FAILED, SKIPPED = "pending", "sent", "running", "done", "failed", "skipped"
#: statuses of work not finished yet
OPEN = (PENDING, SENT, RUNNING)
#: a running row whose worker has not beaten its heart for this long is taken to be lost
STALE = timedelta(minutes=2)
#: a sent row not started after this long is sent again (its message may be lost)
RESEND = timedelta(minutes=2)


def identity_text(me: ProcessIdentity) -> str:
    return f"{me.host}|{me.pid}|{me.started or ''}"


def _identity(text: str) -> ProcessIdentity:
    host, pid, started = text.rsplit("|", 2)
    return ProcessIdentity(host, int(pid), started or None)


@dataclass(frozen=True)
class Dispatch:
    """One row: what to run (``task`` with ``args``) on which queue."""

    id: int
    key: str
    task: str
    args: dict[str, Any]
    queue: str
    status: str
    attempts: int

    @classmethod
    def from_row(cls, row: Any) -> Dispatch:
        return cls(row.id, row.key, row.task, dict(row.args or {}), row.queue, row.status, row.attempts)


class WorkLedger:
    """The ``dispatches`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, conn: Connection, *, key: str, task: str, args: dict[str, Any], queue: str, now: datetime,
        due_at: datetime | None = None,
    ) -> int | None:
        """Add a unit of work in the caller's transaction; None if ``key`` is already there."""
        if conn.execute(select(t.dispatches.c.id).where(t.dispatches.c.key == key)).first() is not None:
            return None
        with conn.begin_nested():
            try:
                found = conn.execute(
                    insert(t.dispatches).values(
                        key=key, task=task, args=args, queue=queue, status=PENDING, attempts=0,
                        due_at=due_at or now, created_at=now,
                    )
                ).inserted_primary_key
            except IntegrityError:  # another scheduler added it between our look and our insert
                return None
        assert found is not None
        return int(found[0])

    def open_like(self, conn: Connection, task: str, args: dict[str, Any]) -> bool:
        """Whether a unit of ``task`` with ``args`` waits to start (a request for a sync that is
        already waiting needs no second one)."""
        rows = conn.execute(
            select(t.dispatches.c.args).where(t.dispatches.c.task == task, t.dispatches.c.status.in_((PENDING, SENT)))
        ).scalars()
        return any(dict(a or {}) == args for a in rows)

    def mark_sent(self, ids: list[int], now: datetime) -> None:
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(t.dispatches)
                .where(t.dispatches.c.id.in_(ids), t.dispatches.c.status.in_((PENDING, SENT)))
                .values(status=SENT, sent_at=now)
            )

    def claim(self, row_id: int, me: ProcessIdentity, now: datetime) -> Dispatch | None:
        """Take the row for this process (None if it is taken, finished or not due)."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(t.dispatches)
                .where(t.dispatches.c.id == row_id, t.dispatches.c.status.in_((PENDING, SENT)),
                       t.dispatches.c.due_at <= now)
                .values(status=RUNNING, claimed_by=identity_text(me), attempts=t.dispatches.c.attempts + 1,
                        heartbeat_at=now)
            ).rowcount  # fmt: skip
            if not taken:
                return None
            row = conn.execute(select(t.dispatches).where(t.dispatches.c.id == row_id)).one()
        return Dispatch.from_row(row)

    def beat(self, row_id: int, me: ProcessIdentity, now: datetime) -> bool:
        """The worker still runs the row; False if it was taken from it."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(t.dispatches)
                    .where(t.dispatches.c.id == row_id, t.dispatches.c.status == RUNNING,
                           t.dispatches.c.claimed_by == identity_text(me))
                    .values(heartbeat_at=now)
                ).rowcount
            )

    def finish(self, row_id: int, status: str, now: datetime, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.dispatches)
                .where(t.dispatches.c.id == row_id)
                .values(status=status, error=error[:4000] if error else None, finished_at=now)
            )

    def defer(self, row_id: int, until: datetime, reason: str) -> None:
        """Put a claimed row back, due again at ``until`` (its sync job was busy)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(t.dispatches)
                .where(t.dispatches.c.id == row_id)
                .values(status=PENDING, due_at=until, error=reason, claimed_by=None, sent_at=None)
            )

    def to_send(self, now: datetime) -> list[Dispatch]:
        """Rows to hand out (again): due and never sent, sent :data:`RESEND` ago and not
        started, or running in a worker that is gone. Running rows found lost are put back
        to ``pending`` here, so exactly one sweep hands each out."""
        d = t.dispatches
        found: list[Dispatch] = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(d).where(
                    d.c.due_at <= now,
                    or_(
                        d.c.status == PENDING,
                        (d.c.status == SENT) & (d.c.sent_at <= now - RESEND),
                        d.c.status == RUNNING,
                    ),
                ).order_by(d.c.id).limit(500)
            ).all()
            for row in rows:
                if row.status == RUNNING:
                    if not self._lost(row, now):
                        continue
                    back = conn.execute(
                        update(d).where(d.c.id == row.id, d.c.status == RUNNING, d.c.claimed_by == row.claimed_by)
                        .values(status=PENDING, claimed_by=None, error="its worker stopped; sent again")
                    ).rowcount  # fmt: skip
                    if not back:
                        continue
                found.append(Dispatch.from_row(row))
        return found

    @staticmethod
    def _lost(row: Any, now: datetime) -> bool:
        """Whether the worker running ``row`` is gone."""
        if row.heartbeat_at is None or row.heartbeat_at <= now - STALE:
            return True
        worker = _identity(row.claimed_by or "||")
        return worker.host == socket.gethostname() and not worker.alive_here()

    def get(self, row_id: int) -> Dispatch | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.dispatches).where(t.dispatches.c.id == row_id)).first()
        return Dispatch.from_row(row) if row is not None else None

    def counts(self) -> dict[str, int]:
        """Rows by status (for metrics)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.dispatches.c.status, func.count()).group_by(t.dispatches.c.status)).all()
        return {status: int(n) for status, n in rows}

    def rows(self, key_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every row (whose key starts with ``key_prefix``), oldest first."""
        stmt = select(t.dispatches).order_by(t.dispatches.c.id)
        if key_prefix:
            stmt = stmt.where(t.dispatches.c.key.startswith(key_prefix, autoescape=True))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]
