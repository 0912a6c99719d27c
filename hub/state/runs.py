"""The run history of sync jobs (``runs``): started, finished or killed, with their summaries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from hub.state import tables as t
from hub.state.rows import now

__all__ = ["SyncRuns"]


class SyncRuns:
    """The ``runs`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, job: str, kind: str, dry_run: bool = False) -> str:
        run_id = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.runs).values(
                    id=run_id, job=job, kind=kind, status="running", dry_run=dry_run, started_at=now()
                )
            )
        return run_id

    def finish(self, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(status=status, finished_at=now(), summary=summary)
            )

    def recent(self, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        stmt = select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit)
        if job:
            stmt = stmt.where(t.runs.c.job == job)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def starting(self, prefix: str, limit: int = 2) -> list[dict[str, Any]]:
        """Runs whose id is ``prefix`` or starts with it (``hub runs show`` takes a short id)."""
        stmt = select(t.runs).where(t.runs.c.id.startswith(prefix, autoescape=True)).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def running_jobs(self) -> list[str]:
        """Jobs with a run still marked running (live, or killed and not yet found out)."""
        stmt = select(t.runs.c.job).where(t.runs.c.status == "running", t.runs.c.kind == "sync").distinct()
        with self.engine.connect() as conn:
            return sorted(str(j) for j in conn.execute(stmt).scalars())

    def mark_killed(self, job: str, keep: str | None = None) -> list[str]:
        """Runs of ``job`` still marked running, found by the run that now holds the job's
        lease: their processes died. Marked ``killed``; their match indexes are dropped."""
        with self.engine.begin() as conn:
            ids = list(conn.execute(
                select(t.runs.c.id).where(t.runs.c.job == job, t.runs.c.status == "running", t.runs.c.id != keep)
            ).scalars())  # fmt: skip
            if ids:
                conn.execute(update(t.runs).where(t.runs.c.id.in_(ids)).values(status="killed", finished_at=now()))
                conn.execute(delete(t.match_index).where(t.match_index.c.run_id.in_(ids)))
        return ids
