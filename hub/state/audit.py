"""The audit log: every write the hub made, and searching it by record, system, run or actor.

The log is append-only and can be long, so a search is a page of at most ``limit``
rows, newest first, continued below the smallest id shown (``before``); each filter
is an indexed column or a prefix of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, insert, select

from hub.state import tables as t
from hub.state.rows import now

if TYPE_CHECKING:
    from hub.state.store import StateStore

__all__ = ["AuditLog", "AuditQuery", "search_audit"]


class AuditLog:
    """The ``audit_log`` table: one row per write the hub made, in the writer's transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        conn: Connection,
        *,
        actor: str,
        system: str,
        entity: str,
        operation: str,
        record_id: str | None,
        before: Any = None,
        after: Any = None,
        run_id: str | None = None,
    ) -> None:
        conn.execute(
            insert(t.audit_log).values(
                at=now(),
                run_id=run_id,
                actor=actor,
                system=system,
                entity=entity,
                record_id=record_id,
                operation=operation,
                before=before,
                after=after,
            )
        )

    def record_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Many :meth:`record` rows in one statement (keys as its keyword arguments)."""
        if rows:
            stamp = now()
            conn.execute(insert(t.audit_log), [{"at": stamp, **r} for r in rows])

    def rows(self, run_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        stmt = select(t.audit_log).order_by(t.audit_log.c.id).limit(limit)
        if run_id:
            stmt = stmt.where(t.audit_log.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def search(
        self,
        *,
        record_id: str | None = None,
        system: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Audit rows matching every filter given, newest first (``hub audit``)."""
        stmt = select(t.audit_log).order_by(t.audit_log.c.id.desc()).limit(limit)
        if record_id is not None:
            stmt = stmt.where(t.audit_log.c.record_id == record_id)
        if system is not None:
            stmt = stmt.where(t.audit_log.c.system == system)
        if run_id is not None:
            stmt = stmt.where(t.audit_log.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def count(self, run_id: str) -> int:
        """How many audit rows (writes) a run left."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(t.audit_log).where(t.audit_log.c.run_id == run_id))
                .scalar_one()
            )


@dataclass(frozen=True)
class AuditQuery:
    #: a record id (exact), e.g. a PSA company id or a workflow step id
    record: str | None = None
    #: a system (connector name, ``workflow``, ``console``)
    system: str | None = None
    #: a sync run or workflow run id, or a prefix of one (at least 4 characters)
    run: str | None = None
    #: who: ``user:NAME``, ``sync:JOB``, ``workflow:NAME`` ... (a prefix matches)
    actor: str | None = None
    #: only rows with an id below this one (the next page)
    before: int | None = None
    limit: int = 100


def search_audit(store: StateStore, query: AuditQuery) -> list[dict[str, Any]]:
    """The matching audit rows, newest first."""
    a = t.audit_log
    stmt = select(a).order_by(a.c.id.desc()).limit(max(1, min(query.limit, 1000)))
    if query.record:
        stmt = stmt.where(a.c.record_id == query.record.strip())
    if query.system:
        stmt = stmt.where(a.c.system == query.system.strip())
    if query.run:
        run = query.run.strip()
        stmt = stmt.where(a.c.run_id == run if len(run) >= 36 else a.c.run_id.startswith(run, autoescape=True))
    if query.actor:
        stmt = stmt.where(a.c.actor.startswith(query.actor.strip(), autoescape=True))
    if query.before is not None:
        stmt = stmt.where(a.c.id < query.before)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
