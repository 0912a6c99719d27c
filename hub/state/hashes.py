"""What a sync remembers of the target records it writes: the hash and owned fields
last written (so an unchanged record costs no write), the match index a run builds of a
target, and the deactivations a run decided on (applied after the mass-deactivation guard).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from hub.state import tables as t
from hub.state.rows import chunks, now, of_target

__all__ = ["MatchIndex", "PendingDeactivations", "RecordHashes"]


class RecordHashes:
    """The ``record_hashes`` table: one row per (job, target system, kind, target id)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, job: str, system: str, kind: str, external_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.record_hashes.c.hash).where(
                    *of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.external_id == external_id,
                )
            ).scalar_one_or_none()

    def save(
        self,
        conn: Connection,
        job: str,
        system: str,
        kind: str,
        external_id: str,
        value: str,
        active: bool = True,
        *,
        fields: dict[str, Any] | None = None,
        source: tuple[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Remember what the hub last wrote to a target record (hash and owned fields)."""
        where = (
            *of_target(t.record_hashes, job, system, kind),
            t.record_hashes.c.external_id == external_id,
        )
        values: dict[str, Any] = {"hash": value, "active": active, "updated_at": now()}
        if fields is not None:
            values["fields"] = fields
        if source is not None:
            values["source_system"], values["source_id"] = source
        if run_id is not None:
            values["seen_run"] = run_id
        if not conn.execute(update(t.record_hashes).where(*where).values(**values)).rowcount:
            conn.execute(
                insert(t.record_hashes).values(job=job, system=system, kind=kind, external_id=external_id, **values)
            )

    def row(self, job: str, system: str, kind: str, external_id: str) -> dict[str, Any] | None:
        """The last-written state of a target record: hash, active, fields, source."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.record_hashes).where(
                    *of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.external_id == external_id,
                )
            ).first()
        return dict(row._mapping) if row else None

    def rows(self, job: str, system: str, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """:meth:`row` for many target ids at once."""
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                rows = conn.execute(
                    select(t.record_hashes).where(
                        t.record_hashes.c.job == job,
                        t.record_hashes.c.system == system,
                        t.record_hashes.c.kind == kind,
                        t.record_hashes.c.external_id.in_(chunk),
                    )
                )
                out.update({r.external_id: dict(r._mapping) for r in rows})
        return out

    def set_many(
        self, conn: Connection, job: str, system: str, kind: str, rows: list[dict[str, Any]], existing: set[str]
    ) -> None:
        """Many :meth:`save` at once; ``rows`` have external_id, hash, fields, source_system,
        source_id, seen_run; ``existing`` says which ids already have a row."""
        stamp = now()
        new = [{**r, "job": job, "system": system, "kind": kind, "active": True, "updated_at": stamp}
               for r in rows if r["external_id"] not in existing]  # fmt: skip
        old = [{**{f"b_{k}": v for k, v in r.items()}, "b_now": stamp} for r in rows if r["external_id"] in existing]
        if new:
            conn.execute(insert(t.record_hashes), new)
        if old:
            conn.execute(
                update(t.record_hashes)
                .where(
                    *of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.external_id == bindparam("b_external_id"),
                )
                .values(
                    hash=bindparam("b_hash"),
                    fields=bindparam("b_fields"),
                    source_system=bindparam("b_source_system"),
                    source_id=bindparam("b_source_id"),
                    seen_run=bindparam("b_seen_run"),
                    active=True,
                    updated_at=bindparam("b_now"),
                ),
                old,
            )

    def mark_seen_many(self, conn: Connection, job: str, system: str, kind: str, ids: list[str], run_id: str) -> None:
        for chunk in chunks(ids):
            conn.execute(
                update(t.record_hashes)
                .where(
                    *of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.external_id.in_(chunk),
                )
                .values(seen_run=run_id)
            )

    def mark_seen(self, conn: Connection, job: str, system: str, kind: str, external_id: str, run_id: str) -> None:
        conn.execute(
            update(t.record_hashes)
            .where(
                *of_target(t.record_hashes, job, system, kind),
                t.record_hashes.c.external_id == external_id,
            )
            .values(seen_run=run_id)
        )

    def unseen(self, job: str, system: str, kind: str, run_id: str) -> Iterator[dict[str, Any]]:
        """Active target records whose source was not seen by ``run_id`` (deleted at the source)."""
        stmt = (
            select(t.record_hashes)
            .where(
                *of_target(t.record_hashes, job, system, kind),
                t.record_hashes.c.active.is_(True),
                (t.record_hashes.c.seen_run.is_(None)) | (t.record_hashes.c.seen_run != run_id),
            )
            .order_by(t.record_hashes.c.external_id)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(stmt):
                yield dict(row._mapping)

    def count(self, job: str, system: str, kind: str, active: bool = True) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).where(
                    *of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.active == active,
                )
            ).scalar_one()


class MatchIndex:
    """The ``match_index`` table: match keys of target records, per run (memory stays flat)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, run_id: str, system: str, kind: str, rows: list[tuple[int, str, str]]) -> None:
        """Add (rule, key, external_id) rows to the match index of one run."""
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.match_index),
                [
                    {"run_id": run_id, "system": system, "kind": kind, "rule": r, "key": k[:300], "external_id": i}
                    for r, k, i in rows
                ],
            )

    def lookup_many(self, run_id: str, system: str, kind: str, rule: int, keys: Iterable[str]) -> dict[str, list[str]]:
        """:meth:`lookup` for many keys at once: key -> distinct ids."""
        out: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(k[:300] for k in keys):
                rows = conn.execute(
                    select(t.match_index.c.key, t.match_index.c.external_id).where(
                        t.match_index.c.run_id == run_id,
                        t.match_index.c.system == system,
                        t.match_index.c.kind == kind,
                        t.match_index.c.rule == rule,
                        t.match_index.c.key.in_(chunk),
                    )
                )
                for key, eid in rows:
                    out.setdefault(key, set()).add(eid)
        return {k: sorted(v) for k, v in out.items()}

    def lookup(self, run_id: str, system: str, kind: str, rule: int, key: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(t.match_index.c.external_id)
                    .where(
                        t.match_index.c.run_id == run_id,
                        t.match_index.c.system == system,
                        t.match_index.c.kind == kind,
                        t.match_index.c.rule == rule,
                        t.match_index.c.key == key[:300],
                    )
                    .distinct()
                ).scalars()
            )

    def drop(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.match_index).where(t.match_index.c.run_id == run_id))


class PendingDeactivations:
    """The ``sync_pending`` table: deactivations decided on, not yet applied."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, conn: Connection, job: str, system: str, kind: str, external_id: str, entity: str, reason: str,
        record: Any = None,
    ) -> None:
        exists = conn.execute(
            select(func.count()).where(
                t.sync_pending.c.job == job,
                t.sync_pending.c.system == system,
                t.sync_pending.c.kind == kind,
                t.sync_pending.c.external_id == external_id,
            )
        ).scalar_one()
        if not exists:
            conn.execute(
                insert(t.sync_pending).values(
                    job=job, system=system, kind=kind, external_id=external_id, entity=entity, reason=reason,
                    record=record, created_at=now(),
                )
            )

    def rows(self, job: str, system: str, kind: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(t.sync_pending)
                    .where(
                        t.sync_pending.c.job == job,
                        t.sync_pending.c.system == system,
                        t.sync_pending.c.kind == kind,
                    )
                    .order_by(t.sync_pending.c.external_id)
                )
            ]

    def drop(self, conn: Connection, job: str, system: str, kind: str, external_id: str) -> None:
        conn.execute(
            delete(t.sync_pending).where(
                t.sync_pending.c.job == job,
                t.sync_pending.c.system == system,
                t.sync_pending.c.kind == kind,
                t.sync_pending.c.external_id == external_id,
            )
        )
