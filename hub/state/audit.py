"""Searching the audit log: every write the hub made, by record, system, run or actor.

The log is append-only and can be long, so a search is a page of at most ``limit``
rows, newest first, continued below the smallest id shown (``before``); each filter
is an indexed column or a prefix of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hub.state import tables as t
from hub.state.store import StateStore

__all__ = ["AuditQuery", "search_audit"]


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
