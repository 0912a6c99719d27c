"""Named locks held by one thread of one process at a time, across every process that
shares the state store: what ``ConnectorContext.lock`` is in a hub.

A QuickBooks refresh token rotates on every use; two processes refreshing at once would
spend it twice and lose the hub's access. Such a step runs under one of these locks:

* on PostgreSQL, a session advisory lock taken on a connection kept for the duration,
  waited for at most ``timeout`` (the server's ``lock_timeout``), and released by the
  server if the process dies, so a crash never leaves it held;
* on SQLite (one machine), an exclusive ``flock`` on a file beside the database, per
  name, which the kernel releases when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from hub.connector import local_lock
from hub.errors import FailureType, HubError

__all__ = ["LockTimeout", "StoreLocks"]

#: how long a caller waits for a lock another process holds before giving up
DEFAULT_TIMEOUT = 60.0
_POLL = 0.05


class LockTimeout(HubError):
    """Another process held the lock for longer than the caller would wait."""

    failure_type = FailureType.transient


def lock_key(name: str) -> int:
    """The signed 64-bit advisory lock key of ``name``."""
    return int.from_bytes(hashlib.sha256(f"msp-hub:lock:{name}".encode()).digest()[:8], "big", signed=True)


class StoreLocks:
    """The named locks of one state store's database."""

    def __init__(self, engine: Engine, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.engine = engine
        self.timeout = timeout

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        if self.engine.dialect.name == "postgresql":
            with self._advisory(name):
                yield
            return
        folder = self._folder()
        if folder is None:  # an in-memory database: one process
            with local_lock(name):
                yield
            return
        with self._flock(folder / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock", name):
            yield

    @contextmanager
    def _advisory(self, name: str) -> Iterator[None]:
        key = lock_key(name)
        with self.engine.connect() as conn:
            conn.execute(text(f"SET lock_timeout = '{int(self.timeout * 1000)}ms'"))
            try:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            except OperationalError:
                raise LockTimeout(f"{name}: another process held the lock for more than {self.timeout:g} s") from None
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.execute(text("RESET lock_timeout"))
                conn.commit()

    def _folder(self) -> Path | None:
        database = self.engine.url.database
        if not database or database.startswith(":memory:") or database.startswith("file::memory:"):
            return None
        return Path(f"{Path(database).expanduser()}-locks")

    @contextmanager
    def _flock(self, path: Path, name: str) -> Iterator[None]:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(
                            f"{name}: another process held the lock for more than {self.timeout:g} s"
                        ) from None
                    time.sleep(_POLL)
            yield
        finally:
            os.close(fd)
