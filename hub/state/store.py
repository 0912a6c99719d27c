"""The state store: cursors, crosswalk, record hashes, runs, locks, audit, dead letters.

SQLAlchemy 2 Core over SQLite (default, one machine) or PostgreSQL (``HUB_STATE_URL``).
The schema is created and upgraded by the versioned Alembic migrations in
``hub/state/migrations`` every time a store is opened.

Writes that belong together happen in one transaction (:meth:`StateStore.transaction`):
the sync engine records crosswalk entries, hashes, audit rows and the new cursor of a
page together, *after* the target accepted the writes, so a crash never leaves a cursor
ahead of the data.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, OperationalError

from hub.errors import ConfigError
from hub.logging import is_secret_key
from hub.secretkey import derive, store_key
from hub.state import tables as t
from hub.state.leases import JobLocked, Lease, Leases

if TYPE_CHECKING:
    from alembic.config import Config
    from cryptography.fernet import Fernet

__all__ = ["CursorState", "DeadLetter", "JobLocked", "KVNamespace", "StateStore"]

#: ids kept at the cursor's boundary timestamp; bounded so state never grows without limit
MAX_BOUNDARY_IDS = 5000


#: the one key of a kv value that holds an encrypted (sealed) value
_SEALED = "$sealed"


def holds_secret(key: str, value: Any) -> bool:
    """Whether a kv entry holds a credential: its key or a key inside it names a secret."""
    if is_secret_key(key):
        return True
    if isinstance(value, dict):
        return any(holds_secret(str(k), v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_secret("", v) for v in value)
    return False


def _now() -> datetime:
    return datetime.now(UTC)


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


@dataclass
class CursorState:
    """Where an incremental read of one (job, connector, stream) stands."""

    cursor: str | None = None
    boundary_ids: list[str] = field(default_factory=list)
    resume: dict[str, Any] | None = None
    run_cursor: str | None = None


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


class KVNamespace:
    """A :class:`hub.connector.KeyValueStore` over the ``kv`` table, one namespace each.

    A value that holds a credential (its key, or any key inside it, names a secret:
    ``refresh_token``, ``api_key``, ...) is encrypted at rest with the store's key
    (Fernet: AES-128-CBC with an HMAC-SHA256, from ``cryptography``), so a copied store
    file gives away no QuickBooks refresh token.
    """

    def __init__(self, store: StateStore, namespace: str) -> None:
        self._store = store
        self._ns = namespace

    def get(self, key: str) -> Any | None:
        with self._store.engine.connect() as conn:
            value = conn.execute(
                select(t.kv.c.value).where(t.kv.c.namespace == self._ns, t.kv.c.key == key)
            ).scalar_one_or_none()
        if isinstance(value, dict) and set(value) == {_SEALED}:
            return self._store.unseal(value[_SEALED], f"{self._ns} {key}")
        return value

    def set(self, key: str, value: Any) -> None:
        """Write atomically (committed before returning): e.g. a rotated refresh token."""
        if holds_secret(key, value):
            value = {_SEALED: self._store.seal(value)}
        with self._store.transaction() as conn:
            self._store.kv_set(conn, self._ns, key, value)

    def delete(self, key: str) -> None:
        with self._store.transaction() as conn:
            conn.execute(delete(t.kv).where(t.kv.c.namespace == self._ns, t.kv.c.key == key))


def _alembic_config(conn: Connection) -> Config:
    from alembic.config import Config  # imported only when a migration runs (see migrate)

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("hub.state") / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def _recorded_revision(conn: Connection) -> str | None:
    """The schema revision Alembic recorded in the database (None before the first migration)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


class StateStore:
    """One state store; cheap to share within a process."""

    def __init__(self, engine: Engine, key: Callable[[], bytes] | None = None) -> None:
        self.engine = engine
        self._leases: Leases | None = None
        self._key = key or (lambda: store_key(engine.url.render_as_string(hide_password=False)))
        self._cipher: Fernet | None = None

    # -- opening ------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, key: Callable[[], bytes] | None = None) -> StateStore:
        """Open (creating the SQLite file, private to its owner, if needed) and migrate to the
        latest schema. ``key`` gives the master key that encrypts stored credentials
        (``HUB_SECRET_KEY``; by default the key file beside a SQLite store), asked for only
        when a credential is first stored or read."""
        path = _sqlite_path(url)
        if path is not None:
            _private_file(path)
        try:
            # a ping per checkout guards network databases; a SQLite file needs none
            engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
        except (ArgumentError, ModuleNotFoundError) as exc:
            raise ConfigError(f"HUB_STATE_URL: cannot use {_safe_url(url)!r}: {exc}") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine, key)
        if migrate:
            try:
                store.migrate()
            except OperationalError as exc:
                raise ConfigError(f"HUB_STATE_URL: cannot open {_safe_url(url)}: {exc.orig}") from None
        return store

    def migrate(self) -> None:
        """Upgrade to :data:`~hub.state.tables.SCHEMA_REVISION`.

        Every command opens the store, and importing Alembic costs a third of a second:
        when the recorded revision is already the latest, Alembic is not loaded at all.
        """
        with self.engine.begin() as conn:
            if _recorded_revision(conn) == t.SCHEMA_REVISION:
                return
        # Two commands opening a new store at once must not both create its tables: the
        # migration is serialized (a file lock beside a SQLite file, a transaction-scoped
        # advisory lock on PostgreSQL) and the revision read again once the lock is held.
        with _file_lock(self.engine), self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            if _recorded_revision(conn) == t.SCHEMA_REVISION:
                return
            from alembic import command

            command.upgrade(_alembic_config(conn), "head")

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return _recorded_revision(conn)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- key/value ----------------------------------------------------------------

    def kv(self, namespace: str) -> KVNamespace:
        return KVNamespace(self, namespace)

    def _fernet(self) -> Fernet:
        if self._cipher is None:
            from cryptography.fernet import Fernet

            self._cipher = Fernet(base64.urlsafe_b64encode(derive(self._key(), "store-credentials")))
        return self._cipher

    def seal(self, value: Any) -> str:
        """``value`` (JSON data) encrypted with the store's key."""
        return self._fernet().encrypt(json.dumps(value).encode("utf-8")).decode("ascii")

    def unseal(self, token: str, what: str) -> Any:
        from cryptography.fernet import InvalidToken

        try:
            return json.loads(self._fernet().decrypt(token.encode("ascii")))
        except InvalidToken:
            raise ConfigError(
                f"state store: the stored credential {what} cannot be decrypted with this key; set "
                "HUB_SECRET_KEY (or restore secret.key beside the store) to the key it was written with"
            ) from None

    def kv_set(self, conn: Connection, namespace: str, key: str, value: Any) -> None:
        updated = conn.execute(
            update(t.kv)
            .where(t.kv.c.namespace == namespace, t.kv.c.key == key)
            .values(value=value, updated_at=_now())
        ).rowcount
        if not updated:
            conn.execute(insert(t.kv).values(namespace=namespace, key=key, value=value, updated_at=_now()))

    # -- cursors ------------------------------------------------------------------

    def get_cursor(self, job: str, connector: str, stream: str) -> CursorState:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.cursors).where(
                    t.cursors.c.job == job, t.cursors.c.connector == connector, t.cursors.c.stream == stream
                )
            ).first()
        if row is None:
            return CursorState()
        return CursorState(row.cursor, list(row.boundary_ids or []), row.resume, row.run_cursor)

    def save_cursor(self, conn: Connection, job: str, connector: str, stream: str, state: CursorState) -> None:
        values = {
            "cursor": state.cursor,
            "boundary_ids": state.boundary_ids[-MAX_BOUNDARY_IDS:],
            "resume": state.resume,
            "run_cursor": state.run_cursor,
            "updated_at": _now(),
        }
        where = (t.cursors.c.job == job, t.cursors.c.connector == connector, t.cursors.c.stream == stream)
        if not conn.execute(update(t.cursors).where(*where).values(**values)).rowcount:
            conn.execute(insert(t.cursors).values(job=job, connector=connector, stream=stream, **values))

    def cursors(self, job: str | None = None) -> list[dict[str, Any]]:
        """Every saved cursor (of one job), for ``hub state list``."""
        stmt = select(t.cursors).order_by(t.cursors.c.job, t.cursors.c.connector, t.cursors.c.stream)
        if job:
            stmt = stmt.where(t.cursors.c.job == job)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def reset_cursors(self, job: str, streams: Iterable[tuple[str, str]] | None = None) -> int:
        """Forget where ``job`` stands (only on these (connector, stream) pairs, if given), so
        its next run reads everything again; returns how many cursors were dropped."""
        with self.transaction() as conn:
            stmt = delete(t.cursors).where(t.cursors.c.job == job)
            if streams is None:
                return int(conn.execute(stmt).rowcount or 0)
            dropped = 0
            for connector, stream in streams:
                dropped += conn.execute(
                    stmt.where(t.cursors.c.connector == connector, t.cursors.c.stream == stream)
                ).rowcount or 0
            return dropped

    def reset_cursor(self, job: str, connector: str | None = None) -> None:
        with self.transaction() as conn:
            stmt = delete(t.cursors).where(t.cursors.c.job == job)
            if connector:
                stmt = stmt.where(t.cursors.c.connector == connector)
            conn.execute(stmt)

    # -- crosswalk ----------------------------------------------------------------

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
                    hub_id=hub_id, kind=kind, system=system, external_id=external_id, created_at=_now()
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
            for chunk in _chunks(ids):
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
        for chunk in _chunks(sid for sid, _ in pairs):
            rows_found = conn.execute(
                select(t.crosswalk.c.external_id, t.crosswalk.c.hub_id).where(
                    t.crosswalk.c.kind == kind, t.crosswalk.c.system == source, t.crosswalk.c.external_id.in_(chunk)
                )
            )
            known.update({sid: hub_id for sid, hub_id in rows_found})
        now = _now()
        rows = []
        for sid, tid in pairs:
            hub_id = known.get(sid)
            if hub_id is None:
                hub_id = new_hub_id()
                rows.append({"hub_id": hub_id, "kind": kind, "system": source, "external_id": sid, "created_at": now})
            rows.append({"hub_id": hub_id, "kind": kind, "system": target, "external_id": tid, "created_at": now})
        conn.execute(insert(t.crosswalk), rows)

    # -- record hashes --------------------------------------------------------------

    def get_hash(self, job: str, system: str, kind: str, external_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.record_hashes.c.hash).where(
                    *_of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.external_id == external_id,
                )
            ).scalar_one_or_none()

    def set_hash(
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
            *_of_target(t.record_hashes, job, system, kind),
            t.record_hashes.c.external_id == external_id,
        )
        values: dict[str, Any] = {"hash": value, "active": active, "updated_at": _now()}
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

    def hash_row(self, job: str, system: str, kind: str, external_id: str) -> dict[str, Any] | None:
        """The last-written state of a target record: hash, active, fields, source."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.record_hashes).where(
                    *_of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.external_id == external_id,
                )
            ).first()
        return dict(row._mapping) if row else None

    def hash_rows(self, job: str, system: str, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """:meth:`hash_row` for many target ids at once."""
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
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

    def set_hashes(
        self, conn: Connection, job: str, system: str, kind: str, rows: list[dict[str, Any]], existing: set[str]
    ) -> None:
        """Many :meth:`set_hash` at once; ``rows`` have external_id, hash, fields, source_system,
        source_id, seen_run; ``existing`` says which ids already have a row."""
        now = _now()
        new = [{**r, "job": job, "system": system, "kind": kind, "active": True, "updated_at": now}
               for r in rows if r["external_id"] not in existing]  # fmt: skip
        old = [{**{f"b_{k}": v for k, v in r.items()}, "b_now": now} for r in rows if r["external_id"] in existing]
        if new:
            conn.execute(insert(t.record_hashes), new)
        if old:
            conn.execute(
                update(t.record_hashes)
                .where(
                    *_of_target(t.record_hashes, job, system, kind),
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
        for chunk in _chunks(ids):
            conn.execute(
                update(t.record_hashes)
                .where(
                    *_of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.external_id.in_(chunk),
                )
                .values(seen_run=run_id)
            )

    def mark_seen(self, conn: Connection, job: str, system: str, kind: str, external_id: str, run_id: str) -> None:
        conn.execute(
            update(t.record_hashes)
            .where(
                *_of_target(t.record_hashes, job, system, kind),
                t.record_hashes.c.external_id == external_id,
            )
            .values(seen_run=run_id)
        )

    def unseen(self, job: str, system: str, kind: str, run_id: str) -> Iterator[dict[str, Any]]:
        """Active target records whose source was not seen by ``run_id`` (deleted at the source)."""
        stmt = (
            select(t.record_hashes)
            .where(
                *_of_target(t.record_hashes, job, system, kind),
                t.record_hashes.c.active.is_(True),
                (t.record_hashes.c.seen_run.is_(None)) | (t.record_hashes.c.seen_run != run_id),
            )
            .order_by(t.record_hashes.c.external_id)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(stmt):
                yield dict(row._mapping)

    def count_hashes(self, job: str, system: str, kind: str, active: bool = True) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).where(
                    *_of_target(t.record_hashes, job, system, kind),
                    t.record_hashes.c.active == active,
                )
            ).scalar_one()

    # -- match index ----------------------------------------------------------------

    def index_keys(self, run_id: str, system: str, kind: str, rows: list[tuple[int, str, str]]) -> None:
        """Add (rule, key, external_id) rows to the match index of one run."""
        if not rows:
            return
        with self.transaction() as conn:
            conn.execute(
                insert(t.match_index),
                [
                    {"run_id": run_id, "system": system, "kind": kind, "rule": r, "key": k[:300], "external_id": i}
                    for r, k, i in rows
                ],
            )

    def lookup_keys(self, run_id: str, system: str, kind: str, rule: int, keys: Iterable[str]) -> dict[str, list[str]]:
        """:meth:`lookup_key` for many keys at once: key -> distinct ids."""
        out: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(k[:300] for k in keys):
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

    def lookup_key(self, run_id: str, system: str, kind: str, rule: int, key: str) -> list[str]:
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

    def drop_index(self, run_id: str) -> None:
        with self.transaction() as conn:
            conn.execute(delete(t.match_index).where(t.match_index.c.run_id == run_id))

    # -- pending deactivations --------------------------------------------------------

    def add_pending(
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
                    record=record, created_at=_now(),
                )
            )

    def pending(self, job: str, system: str, kind: str) -> list[dict[str, Any]]:
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

    def drop_pending(self, conn: Connection, job: str, system: str, kind: str, external_id: str) -> None:
        conn.execute(
            delete(t.sync_pending).where(
                t.sync_pending.c.job == job,
                t.sync_pending.c.system == system,
                t.sync_pending.c.kind == kind,
                t.sync_pending.c.external_id == external_id,
            )
        )

    # -- runs and locks -----------------------------------------------------------

    def start_run(self, job: str, kind: str, dry_run: bool = False) -> str:
        run_id = str(uuid.uuid4())
        with self.transaction() as conn:
            conn.execute(
                insert(t.runs).values(
                    id=run_id, job=job, kind=kind, status="running", dry_run=dry_run, started_at=_now()
                )
            )
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(status=status, finished_at=_now(), summary=summary)
            )

    def recent_runs(self, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        stmt = select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit)
        if job:
            stmt = stmt.where(t.runs.c.job == job)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    @property
    def leases(self) -> Leases:
        """The run leases (see :mod:`hub.state.leases`)."""
        if self._leases is None:
            self._leases = Leases(self.engine)
        return self._leases
    def runs_starting(self, prefix: str, limit: int = 2) -> list[dict[str, Any]]:
        """Runs whose id is ``prefix`` or starts with it (``hub runs show`` takes a short id)."""
        stmt = select(t.runs).where(t.runs.c.id.startswith(prefix, autoescape=True)).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    @contextmanager
    def lock(self, name: str) -> Iterator[Lease]:
        """Hold the lease ``name`` for the duration (heartbeat included); a second holder
        gets :class:`JobLocked`."""
        with self.leases.hold(name) as lease:
            yield lease

    def mark_killed(self, job: str, keep: str | None = None) -> list[str]:
        """Runs of ``job`` still marked running, found by the run that now holds the job's
        lease: their processes died. Marked ``killed``; their match indexes are dropped."""
        with self.transaction() as conn:
            ids = list(conn.execute(
                select(t.runs.c.id).where(t.runs.c.job == job, t.runs.c.status == "running", t.runs.c.id != keep)
            ).scalars())  # fmt: skip
            if ids:
                conn.execute(update(t.runs).where(t.runs.c.id.in_(ids)).values(status="killed", finished_at=_now()))
                conn.execute(delete(t.match_index).where(t.match_index.c.run_id.in_(ids)))
        return ids

    # -- audit ----------------------------------------------------------------------

    def audit(
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
                at=_now(),
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

    def audit_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Many :meth:`audit` rows in one statement (keys as its keyword arguments)."""
        if rows:
            now = _now()
            conn.execute(insert(t.audit_log), [{"at": now, **r} for r in rows])

    def audit_rows(self, run_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        stmt = select(t.audit_log).order_by(t.audit_log.c.id).limit(limit)
        if run_id:
            stmt = stmt.where(t.audit_log.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def audit_search(
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

    def audit_count(self, run_id: str) -> int:
        """How many audit rows (writes) a run left."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(t.audit_log).where(t.audit_log.c.run_id == run_id))
                .scalar_one()
            )

    # -- dead letters ---------------------------------------------------------------

    def dead_letter(
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
        now = _now()
        where = (
            *_of_target(t.dead_letters, job, system, kind),
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
                last_at=now,
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
                    first_at=now,
                    last_at=now,
                )
            )

    def dead_letters(
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

    def dead_letter_by_id(self, letter_id: int) -> tuple[DeadLetter, datetime | None] | None:
        """One dead letter, resolved or not, with when it was resolved (``hub deadletters show``)."""
        with self.engine.connect() as conn:
            r = conn.execute(select(t.dead_letters).where(t.dead_letters.c.id == letter_id)).first()
        if r is None:
            return None
        letter = DeadLetter(r.id, r.job, r.system, r.kind, r.record_id, r.operation, r.record, r.error,
                            r.attempts, r.first_at, r.last_at)  # fmt: skip
        return letter, r.resolved_at

    def discard_dead_letter(self, conn: Connection, letter_id: int) -> bool:
        """Stop retrying one dead letter (it is kept, resolved, for the record); False if it
        does not exist or was already resolved."""
        return bool(
            conn.execute(
                update(t.dead_letters)
                .where(t.dead_letters.c.id == letter_id, t.dead_letters.c.resolved_at.is_(None))
                .values(resolved_at=_now())
            ).rowcount
        )

    def dead_lettered(self, job: str, system: str, kind: str, record_ids: Iterable[str]) -> set[str]:
        """Which of ``record_ids`` have an unresolved dead letter (one query per 500)."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(record_ids):
                found.update(
                    conn.execute(
                        select(t.dead_letters.c.record_id).where(
                            *_of_target(t.dead_letters, job, system, kind),
                            t.dead_letters.c.record_id.in_(chunk),
                            t.dead_letters.c.resolved_at.is_(None),
                        )
                    ).scalars()
                )
        return found

    def has_dead_letters(self, job: str, system: str, kind: str) -> bool:
        """Whether any record of this job and target is dead-lettered and unresolved."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t.dead_letters.c.id)
                .where(*_of_target(t.dead_letters, job, system, kind), t.dead_letters.c.resolved_at.is_(None))
                .limit(1)
            ).first()
        return found is not None

    def resolve_dead_letters(self, conn: Connection, job: str, system: str, kind: str, record_ids: list[str]) -> None:
        for chunk in _chunks(record_ids):
            conn.execute(
                update(t.dead_letters)
                .where(
                    *_of_target(t.dead_letters, job, system, kind),
                    t.dead_letters.c.record_id.in_(chunk),
                    t.dead_letters.c.resolved_at.is_(None),
                )
                .values(resolved_at=_now())
            )

    def resolve_dead_letter(self, conn: Connection, job: str, system: str, kind: str, record_id: str) -> None:
        conn.execute(
            update(t.dead_letters)
            .where(
                *_of_target(t.dead_letters, job, system, kind),
                t.dead_letters.c.record_id == record_id,
                t.dead_letters.c.resolved_at.is_(None),
            )
            .values(resolved_at=_now())
        )


def _of_target(table: Any, job: str, system: str, kind: str) -> tuple[Any, ...]:
    """The rows of one job's records of one kind in one target system."""
    return (table.c.job == job, table.c.system == system, table.c.kind == kind)


def _chunks(values: Iterable[str], size: int = 500) -> Iterator[list[str]]:
    """``values`` in lists of at most ``size`` (bounded IN clauses)."""
    chunk: list[str] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


#: the PostgreSQL advisory lock key that serializes migrations (any fixed 64-bit number)
_MIGRATION_LOCK = 0x6D73705F687562  # "msp_hub"


def _sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0]).expanduser()


def _private_file(path: Path) -> None:
    """Create the store file readable by its owner only (it holds credentials and customer
    data), and take group and other access away from one created by an older version.
    SQLite gives its -wal and -shm files the database file's permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077 and os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock on ``<database>.lock`` beside a SQLite file (nothing elsewhere)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database.startswith(":memory:") or database.startswith("file::memory:"):
        yield
        return
    import fcntl

    fd = os.open(f"{Path(database).expanduser()}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets `hub serve` read while a sync writes; busy_timeout waits out short locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL still survives any process crash (a kill mid-sync loses nothing
    # committed); only a power cut can drop the last commits. It saves an fsync a commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _safe_url(url: str) -> str:
    from hub.logging import redact_url

    return redact_url(url)
