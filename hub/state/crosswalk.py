"""The crosswalk: which external ids (system, kind, id) are one record, under one hub id."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, delete, insert, select

from hub.state import tables as t
from hub.state.rows import chunks, now

__all__ = ["Crosswalk", "new_hub_id"]


def new_hub_id() -> str:
    """A new hub id: a time-ordered UUID, version 7 of RFC 9562 (48 bits of Unix time in
    milliseconds, then random bits).

    Hub ids are opaque, but they key the crosswalk's unique (hub_id, system) index. Random
    (version 4) ids land on a random page of that index at every insert, so each page of a
    large sync dirtied more index pages than the last (crosswalk inserts 21 -> 27 us a record
    over 200,000 records); time-ordered ids are appended to its end (16 us, flat).
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC's variant
    return str(uuid.UUID(int=value))


class Crosswalk:
    """The ``crosswalk`` table; links are written in the caller's transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def hub_id(self, kind: str, system: str, external_id: str, conn: Connection | None = None) -> str | None:
        stmt = select(t.crosswalk.c.hub_id).where(
            t.crosswalk.c.kind == kind, t.crosswalk.c.system == system, t.crosswalk.c.external_id == external_id
        )
        if conn is not None:
            return conn.execute(stmt).scalar_one_or_none()
        with self.engine.connect() as c:
            return c.execute(stmt).scalar_one_or_none()

    def counterpart(self, kind: str, system: str, external_id: str, target: str) -> str | None:
        """The id in ``target`` of the record known as ``external_id`` in ``system``."""
        a, b = t.crosswalk.alias("a"), t.crosswalk.alias("b")
        stmt = (
            select(b.c.external_id)
            .select_from(a.join(b, a.c.hub_id == b.c.hub_id))
            .where(a.c.kind == kind, a.c.system == system, a.c.external_id == external_id, b.c.system == target)
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def refs(self, hub_id: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.crosswalk.c.system, t.crosswalk.c.external_id).where(t.crosswalk.c.hub_id == hub_id)
            )
            return {r.system: r.external_id for r in rows}

    def link(self, conn: Connection, kind: str, refs: dict[str, str]) -> str:
        """Record that ``refs`` (system -> id) are one record; returns its hub id.

        Existing entries win: linking never moves an id from one hub record to another.
        """
        hub_id = None
        for system, external_id in refs.items():
            hub_id = hub_id or self.hub_id(kind, system, external_id, conn)
        hub_id = hub_id or new_hub_id()
        for system, external_id in refs.items():
            existing = self.hub_id(kind, system, external_id, conn)
            if existing:
                continue
            conn.execute(
                insert(t.crosswalk).values(
                    hub_id=hub_id, kind=kind, system=system, external_id=external_id, created_at=now()
                )
            )
        return hub_id

    def unlink(self, conn: Connection, kind: str, system: str, external_id: str) -> None:
        conn.execute(
            delete(t.crosswalk).where(
                t.crosswalk.c.kind == kind, t.crosswalk.c.system == system, t.crosswalk.c.external_id == external_id
            )
        )

    def counterparts(self, kind: str, system: str, ids: Iterable[str], target: str) -> dict[str, str]:
        """For many ids in ``system``, their ids in ``target`` (one query per 500)."""
        a, b = t.crosswalk.alias("a"), t.crosswalk.alias("b")
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                stmt = (
                    select(a.c.external_id, b.c.external_id)
                    .select_from(a.join(b, a.c.hub_id == b.c.hub_id))
                    .where(a.c.kind == kind, a.c.system == system, a.c.external_id.in_(chunk), b.c.system == target)
                )
                found.update({src: tgt for src, tgt in conn.execute(stmt)})
        return found

    def link_new(self, conn: Connection, kind: str, source: str, target: str, pairs: list[tuple[str, str]]) -> None:
        """Link (source id, new target id) pairs in a few statements (a sync's creates).

        The target ids are new; a source id may already be known (linked to a third
        system by another job) and then keeps its hub id.
        """
        if not pairs:
            return
        known: dict[str, str] = {}
        for chunk in chunks(sid for sid, _ in pairs):
            rows_found = conn.execute(
                select(t.crosswalk.c.external_id, t.crosswalk.c.hub_id).where(
                    t.crosswalk.c.kind == kind, t.crosswalk.c.system == source, t.crosswalk.c.external_id.in_(chunk)
                )
            )
            known.update({sid: hub_id for sid, hub_id in rows_found})
        stamp = now()
        rows = []
        for sid, tid in pairs:
            hub_id = known.get(sid)
            if hub_id is None:
                hub_id = new_hub_id()
                rows.append({"hub_id": hub_id, "kind": kind, "system": source, "external_id": sid, "created_at": stamp})
            rows.append({"hub_id": hub_id, "kind": kind, "system": target, "external_id": tid, "created_at": stamp})
        conn.execute(insert(t.crosswalk), rows)
