"""The state store: one database, one repository per concern, and its schema migrations.

SQLAlchemy 2 Core over SQLite (default, one machine) or PostgreSQL (``HUB_STATE_URL``).
The schema is created and upgraded by the versioned Alembic migrations in
``hub/state/migrations`` every time a store is opened.

:class:`StateStore` opens the database and hands out the repositories, one per concern,
each in its own module: key/value state (:mod:`~hub.state.kv`), cursors
(:mod:`~hub.state.cursors`), the crosswalk (:mod:`~hub.state.crosswalk`), record hashes,
match index and pending deactivations (:mod:`~hub.state.hashes`), sync runs
(:mod:`~hub.state.runs`), run leases (:mod:`~hub.state.leases`), the audit log
(:mod:`~hub.state.audit`), dead letters (:mod:`~hub.state.deadletters`) and the
work ledger of scale-out (:mod:`~hub.state.dispatch`); webhook
events and workflow runs keep theirs beside the code that uses them
(:class:`hub.events.store.EventStore`, :class:`hub.workflow.runs.RunStore`). The store's
own methods of the same names (``get_cursor``, ``link``, ``audit``, ...) are kept for the
code that calls them; new code may use either.

Writes that belong together happen in one transaction (:meth:`StateStore.transaction`):
the sync engine records crosswalk entries, hashes, audit rows and the new cursor of a
page together, *after* the target accepted the writes, so a crash never leaves a cursor
ahead of the data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, OperationalError

from hub.errors import ConfigError
from hub.secretkey import store_key
from hub.state import tables as t
from hub.state.audit import AuditLog
from hub.state.crosswalk import Crosswalk, new_hub_id
from hub.state.cursors import MAX_BOUNDARY_IDS, Cursors, CursorState
from hub.state.deadletters import DeadLetter, DeadLetters
from hub.state.dispatch import WorkLedger
from hub.state.hashes import MatchIndex, PendingDeactivations, RecordHashes
from hub.state.kv import KeyValues, KVNamespace, holds_secret
from hub.state.leases import JobLocked, Lease, Leases
from hub.state.runs import SyncRuns

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MAX_BOUNDARY_IDS",
    "CursorState",
    "DeadLetter",
    "JobLocked",
    "KVNamespace",
    "StateStore",
    "holds_secret",
    "new_hub_id",
]


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
    """One state store and its repositories; cheap to share within a process."""

    def __init__(self, engine: Engine, key: Callable[[], bytes] | None = None) -> None:
        self.engine = engine
        url = engine.url.render_as_string(hide_password=False)
        self.key_values = KeyValues(engine, key or (lambda: store_key(url)))
        self.cursor_states = Cursors(engine)
        self.crosswalk = Crosswalk(engine)
        self.record_hashes = RecordHashes(engine)
        self.match_index = MatchIndex(engine)
        self.pending_deactivations = PendingDeactivations(engine)
        self.sync_runs = SyncRuns(engine)
        self.audit_log = AuditLog(engine)
        self.dead_letter_queue = DeadLetters(engine)
        self.work = WorkLedger(engine)
        self._leases: Leases | None = None

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

    @property
    def leases(self) -> Leases:
        """The run leases (see :mod:`hub.state.leases`)."""
        if self._leases is None:
            self._leases = Leases(self.engine)
        return self._leases

    @contextmanager
    def lock(self, name: str) -> Iterator[Lease]:
        """Hold the lease ``name`` for the duration (heartbeat included); a second holder
        gets :class:`JobLocked`."""
        with self.leases.hold(name) as lease:
            yield lease

    # -- key/value ----------------------------------------------------------------

    def kv(self, namespace: str) -> KVNamespace:
        return self.key_values.namespace(namespace)

    def seal(self, value: Any) -> str:
        return self.key_values.seal(value)

    def unseal(self, token: str, what: str) -> Any:
        return self.key_values.unseal(token, what)

    def kv_set(self, conn: Connection, namespace: str, key: str, value: Any) -> None:
        self.key_values.set_in(conn, namespace, key, value)

    # -- cursors ------------------------------------------------------------------

    def get_cursor(self, job: str, connector: str, stream: str) -> CursorState:
        return self.cursor_states.get(job, connector, stream)

    def save_cursor(self, conn: Connection, job: str, connector: str, stream: str, state: CursorState) -> None:
        self.cursor_states.save(conn, job, connector, stream, state)

    def cursors(self, job: str | None = None) -> list[dict[str, Any]]:
        return self.cursor_states.rows(job)

    def reset_cursors(self, job: str, streams: Iterable[tuple[str, str]] | None = None) -> int:
        return self.cursor_states.reset(job, streams)

    def reset_cursor(self, job: str, connector: str | None = None) -> None:
        self.cursor_states.reset_connector(job, connector)

    # -- crosswalk ----------------------------------------------------------------

    def hub_id(self, kind: str, system: str, external_id: str, conn: Connection | None = None) -> str | None:
        return self.crosswalk.hub_id(kind, system, external_id, conn)

    def counterpart(self, kind: str, system: str, external_id: str, target: str) -> str | None:
        return self.crosswalk.counterpart(kind, system, external_id, target)

    def counterparts(self, kind: str, system: str, ids: Iterable[str], target: str) -> dict[str, str]:
        return self.crosswalk.counterparts(kind, system, ids, target)

    def refs(self, hub_id: str) -> dict[str, str]:
        return self.crosswalk.refs(hub_id)

    def link(self, conn: Connection, kind: str, refs: dict[str, str]) -> str:
        return self.crosswalk.link(conn, kind, refs)

    def unlink(self, conn: Connection, kind: str, system: str, external_id: str) -> None:
        self.crosswalk.unlink(conn, kind, system, external_id)

    def link_new(self, conn: Connection, kind: str, source: str, target: str, pairs: list[tuple[str, str]]) -> None:
        self.crosswalk.link_new(conn, kind, source, target, pairs)

    # -- record hashes, match index, pending deactivations ------------------------------

    def get_hash(self, job: str, system: str, kind: str, external_id: str) -> str | None:
        return self.record_hashes.get(job, system, kind, external_id)

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
        self.record_hashes.save(
            conn, job, system, kind, external_id, value, active, fields=fields, source=source, run_id=run_id
        )

    def hash_row(self, job: str, system: str, kind: str, external_id: str) -> dict[str, Any] | None:
        return self.record_hashes.row(job, system, kind, external_id)

    def hash_rows(self, job: str, system: str, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return self.record_hashes.rows(job, system, kind, ids)

    def set_hashes(
        self, conn: Connection, job: str, system: str, kind: str, rows: list[dict[str, Any]], existing: set[str]
    ) -> None:
        self.record_hashes.set_many(conn, job, system, kind, rows, existing)

    def mark_seen_many(self, conn: Connection, job: str, system: str, kind: str, ids: list[str], run_id: str) -> None:
        self.record_hashes.mark_seen_many(conn, job, system, kind, ids, run_id)

    def mark_seen(self, conn: Connection, job: str, system: str, kind: str, external_id: str, run_id: str) -> None:
        self.record_hashes.mark_seen(conn, job, system, kind, external_id, run_id)

    def unseen(self, job: str, system: str, kind: str, run_id: str) -> Iterator[dict[str, Any]]:
        return self.record_hashes.unseen(job, system, kind, run_id)

    def count_hashes(self, job: str, system: str, kind: str, active: bool = True) -> int:
        return self.record_hashes.count(job, system, kind, active)

    def index_keys(self, run_id: str, system: str, kind: str, rows: list[tuple[int, str, str]]) -> None:
        self.match_index.add(run_id, system, kind, rows)

    def lookup_keys(self, run_id: str, system: str, kind: str, rule: int, keys: Iterable[str]) -> dict[str, list[str]]:
        return self.match_index.lookup_many(run_id, system, kind, rule, keys)

    def lookup_key(self, run_id: str, system: str, kind: str, rule: int, key: str) -> list[str]:
        return self.match_index.lookup(run_id, system, kind, rule, key)

    def drop_index(self, run_id: str) -> None:
        self.match_index.drop(run_id)

    def add_pending(
        self, conn: Connection, job: str, system: str, kind: str, external_id: str, entity: str, reason: str,
        record: Any = None,
    ) -> None:
        self.pending_deactivations.add(conn, job, system, kind, external_id, entity, reason, record)

    def pending(self, job: str, system: str, kind: str) -> list[dict[str, Any]]:
        return self.pending_deactivations.rows(job, system, kind)

    def drop_pending(self, conn: Connection, job: str, system: str, kind: str, external_id: str) -> None:
        self.pending_deactivations.drop(conn, job, system, kind, external_id)

    # -- runs -----------------------------------------------------------------------

    def start_run(self, job: str, kind: str, dry_run: bool = False) -> str:
        return self.sync_runs.start(job, kind, dry_run)

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
        self.sync_runs.finish(run_id, status, summary)

    def recent_runs(self, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        return self.sync_runs.recent(job, limit)

    def runs_starting(self, prefix: str, limit: int = 2) -> list[dict[str, Any]]:
        return self.sync_runs.starting(prefix, limit)

    def mark_killed(self, job: str, keep: str | None = None) -> list[str]:
        return self.sync_runs.mark_killed(job, keep)

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
        self.audit_log.record(conn, actor=actor, system=system, entity=entity, operation=operation,
                              record_id=record_id, before=before, after=after, run_id=run_id)  # fmt: skip

    def audit_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self.audit_log.record_many(conn, rows)

    def audit_rows(self, run_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        return self.audit_log.rows(run_id, limit)

    def audit_search(
        self,
        *,
        record_id: str | None = None,
        system: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        return self.audit_log.search(record_id=record_id, system=system, run_id=run_id, limit=limit)

    def audit_count(self, run_id: str) -> int:
        return self.audit_log.count(run_id)

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
        self.dead_letter_queue.add(conn, job=job, system=system, kind=kind, record_id=record_id,
                                   operation=operation, record=record, error=error)  # fmt: skip

    def dead_letters(
        self, job: str | None = None, include_resolved: bool = False, *, operation: str | None = None
    ) -> list[DeadLetter]:
        return self.dead_letter_queue.unresolved(job, include_resolved, operation=operation)

    def dead_letter_by_id(self, letter_id: int) -> tuple[DeadLetter, datetime | None] | None:
        return self.dead_letter_queue.by_id(letter_id)

    def discard_dead_letter(self, conn: Connection, letter_id: int) -> bool:
        return self.dead_letter_queue.discard(conn, letter_id)

    def dead_lettered(self, job: str, system: str, kind: str, record_ids: Iterable[str]) -> set[str]:
        return self.dead_letter_queue.among(job, system, kind, record_ids)

    def has_dead_letters(self, job: str, system: str, kind: str) -> bool:
        return self.dead_letter_queue.any_for(job, system, kind)

    def resolve_dead_letters(self, conn: Connection, job: str, system: str, kind: str, record_ids: list[str]) -> None:
        self.dead_letter_queue.resolve_many(conn, job, system, kind, record_ids)

    def resolve_dead_letter(self, conn: Connection, job: str, system: str, kind: str, record_id: str) -> None:
        self.dead_letter_queue.resolve(conn, job, system, kind, record_id)


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
