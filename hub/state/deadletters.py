"""Dead letters: records a sync could not write, with the reason, kept until resolved."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from hub.state import tables as t
from hub.state.rows import chunks, now, of_target

__all__ = ["DeadLetter", "DeadLetters"]


@dataclass
class DeadLetter:
    id: int
    job: str
    system: str
    kind: str
    record_id: str
    operation: str
    record: Any
    error: str
    attempts: int
    first_at: datetime
    last_at: datetime


class DeadLetters:
    """The ``dead_letters`` table; additions and resolutions take the caller's transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        conn: Connection,
        *,
        job: str,
        system: str,
        kind: str,
        record_id: str,
        operation: str,
        record: Any,
        error: str,
    ) -> None:
        """Add a failed record, or count one more attempt of one already there."""
        stamp = now()
        where = (
            *of_target(t.dead_letters, job, system, kind),
            t.dead_letters.c.record_id == record_id,
        )
        updated = conn.execute(
            update(t.dead_letters)
            .where(*where)
            .values(
                attempts=t.dead_letters.c.attempts + 1,
                error=error,
                record=record,
                operation=operation,
                last_at=stamp,
                resolved_at=None,
            )
        ).rowcount
        if not updated:
            conn.execute(
                insert(t.dead_letters).values(
                    job=job,
                    system=system,
                    kind=kind,
                    record_id=record_id,
                    operation=operation,
                    record=record,
                    error=error,
                    attempts=1,
                    first_at=stamp,
                    last_at=stamp,
                )
            )

    def unresolved(
        self, job: str | None = None, include_resolved: bool = False, *, operation: str | None = None
    ) -> list[DeadLetter]:
        stmt = select(t.dead_letters).order_by(t.dead_letters.c.id)
        if job:
            stmt = stmt.where(t.dead_letters.c.job == job)
        if operation:
            stmt = stmt.where(t.dead_letters.c.operation == operation)
        if not include_resolved:
            stmt = stmt.where(t.dead_letters.c.resolved_at.is_(None))
        with self.engine.connect() as conn:
            return [
                DeadLetter(
                    r.id,
                    r.job,
                    r.system,
                    r.kind,
                    r.record_id,
                    r.operation,
                    r.record,
                    r.error,
                    r.attempts,
                    r.first_at,
                    r.last_at,
                )
                for r in conn.execute(stmt)
            ]

    def by_id(self, letter_id: int) -> tuple[DeadLetter, datetime | None] | None:
        """One dead letter, resolved or not, with when it was resolved (``hub deadletters show``)."""
        with self.engine.connect() as conn:
            r = conn.execute(select(t.dead_letters).where(t.dead_letters.c.id == letter_id)).first()
        if r is None:
            return None
        letter = DeadLetter(r.id, r.job, r.system, r.kind, r.record_id, r.operation, r.record, r.error,
                            r.attempts, r.first_at, r.last_at)  # fmt: skip
        return letter, r.resolved_at

    def discard(self, conn: Connection, letter_id: int) -> bool:
        """Stop retrying one dead letter (it is kept, resolved, for the record); False if it
        does not exist or was already resolved."""
        return bool(
            conn.execute(
                update(t.dead_letters)
                .where(t.dead_letters.c.id == letter_id, t.dead_letters.c.resolved_at.is_(None))
                .values(resolved_at=now())
            ).rowcount
        )

    def among(self, job: str, system: str, kind: str, record_ids: Iterable[str]) -> set[str]:
        """Which of ``record_ids`` have an unresolved dead letter (one query per 500)."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(record_ids):
                found.update(
                    conn.execute(
                        select(t.dead_letters.c.record_id).where(
                            *of_target(t.dead_letters, job, system, kind),
                            t.dead_letters.c.record_id.in_(chunk),
                            t.dead_letters.c.resolved_at.is_(None),
                        )
                    ).scalars()
                )
        return found

    def any_for(self, job: str, system: str, kind: str) -> bool:
        """Whether any record of this job and target is dead-lettered and unresolved."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t.dead_letters.c.id)
                .where(*of_target(t.dead_letters, job, system, kind), t.dead_letters.c.resolved_at.is_(None))
                .limit(1)
            ).first()
        return found is not None

    def resolve_many(self, conn: Connection, job: str, system: str, kind: str, record_ids: list[str]) -> None:
        for chunk in chunks(record_ids):
            conn.execute(
                update(t.dead_letters)
                .where(
                    *of_target(t.dead_letters, job, system, kind),
                    t.dead_letters.c.record_id.in_(chunk),
                    t.dead_letters.c.resolved_at.is_(None),
                )
                .values(resolved_at=now())
            )

    def resolve(self, conn: Connection, job: str, system: str, kind: str, record_id: str) -> None:
        conn.execute(
            update(t.dead_letters)
            .where(
                *of_target(t.dead_letters, job, system, kind),
                t.dead_letters.c.record_id == record_id,
                t.dead_letters.c.resolved_at.is_(None),
            )
            .values(resolved_at=now())
        )
