"""Cursors: where each incremental read of one (job, connector, stream) stands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from hub.state import tables as t
from hub.state.rows import now

__all__ = ["MAX_BOUNDARY_IDS", "CursorState", "Cursors"]

#: ids kept at the cursor's boundary timestamp; bounded so state never grows without limit
MAX_BOUNDARY_IDS = 5000


@dataclass
class CursorState:
    """Where an incremental read of one (job, connector, stream) stands."""

    cursor: str | None = None
    boundary_ids: list[str] = field(default_factory=list)
    resume: dict[str, Any] | None = None
    run_cursor: str | None = None


class Cursors:
    """The ``cursors`` table. A cursor is saved in the caller's transaction, with the page
    it describes (never ahead of the data)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, job: str, connector: str, stream: str) -> CursorState:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.cursors).where(
                    t.cursors.c.job == job, t.cursors.c.connector == connector, t.cursors.c.stream == stream
                )
            ).first()
        if row is None:
            return CursorState()
        return CursorState(row.cursor, list(row.boundary_ids or []), row.resume, row.run_cursor)

    def save(self, conn: Connection, job: str, connector: str, stream: str, state: CursorState) -> None:
        values = {
            "cursor": state.cursor,
            "boundary_ids": state.boundary_ids[-MAX_BOUNDARY_IDS:],
            "resume": state.resume,
            "run_cursor": state.run_cursor,
            "updated_at": now(),
        }
        where = (t.cursors.c.job == job, t.cursors.c.connector == connector, t.cursors.c.stream == stream)
        if not conn.execute(update(t.cursors).where(*where).values(**values)).rowcount:
            conn.execute(insert(t.cursors).values(job=job, connector=connector, stream=stream, **values))

    def rows(self, job: str | None = None) -> list[dict[str, Any]]:
        """Every saved cursor (of one job), for ``hub state list``."""
        stmt = select(t.cursors).order_by(t.cursors.c.job, t.cursors.c.connector, t.cursors.c.stream)
        if job:
            stmt = stmt.where(t.cursors.c.job == job)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def reset(self, job: str, streams: Iterable[tuple[str, str]] | None = None) -> int:
        """Forget where ``job`` stands (only on these (connector, stream) pairs, if given), so
        its next run reads everything again; returns how many cursors were dropped."""
        with self.engine.begin() as conn:
            stmt = delete(t.cursors).where(t.cursors.c.job == job)
            if streams is None:
                return int(conn.execute(stmt).rowcount or 0)
            dropped = 0
            for connector, stream in streams:
                dropped += conn.execute(
                    stmt.where(t.cursors.c.connector == connector, t.cursors.c.stream == stream)
                ).rowcount or 0
            return dropped

    def reset_connector(self, job: str, connector: str | None = None) -> None:
        """Forget where ``job`` stands on every stream (of ``connector``, if given)."""
        with self.engine.begin() as conn:
            stmt = delete(t.cursors).where(t.cursors.c.job == job)
            if connector:
                stmt = stmt.where(t.cursors.c.connector == connector)
            conn.execute(stmt)
