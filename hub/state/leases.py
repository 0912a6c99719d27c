"""Run leases: runs of one job never overlap, a live run never loses its lease, and a run
that lost it never commits again.

One row per lease name (``locks``) holds who has it (a random holder id, host, pid and
the process's start time), until when (``expires_at``), and a fencing token that grows
with every acquisition and is never reset (a released row stays, with no holder).

* **Taking a lease.** Free when the row has no holder, when its holder is a process of
  this host that is gone (its pid is not running, or runs a newer process), or when it
  expired. A lease whose holder is a live process of this host is never taken, however
  long ago it last renewed (a run waiting ten minutes on a vendor's budget is alive). On
  PostgreSQL the taker also holds a session advisory lock on a connection kept for the
  run, which the server releases when the process dies.
* **Keeping it.** A heartbeat thread renews it every ``ttl / 6`` seconds, well inside
  its expiry; every checkpoint renews it too.
* **Fencing** (Kleppmann, "How to do distributed locking"). Every checkpoint commit runs
  :meth:`Lease.check` in its own transaction: an update of the row that matches only
  this holder and token. If another run took the lease meanwhile, nothing matches, the
  transaction is rolled back and :class:`LeaseLost` stops the run: a run that lost its
  lease can never commit again, and its writes stop at the next record.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock, SystemClock
from hub.errors import HubError
from hub.logging import get_logger
from hub.state import tables as t

__all__ = ["LEASE_TTL", "JobLocked", "Lease", "LeaseLost", "Leases", "ProcessIdentity"]

log = get_logger("hub.state.leases")

#: how long a lease lasts without renewal; its heartbeat renews it six times as often
LEASE_TTL = timedelta(minutes=2)


class JobLocked(HubError):
    """Another run of the same job holds its lease."""


class LeaseLost(HubError):
    """Another run took this run's lease (it had expired): this run commits nothing more."""


@dataclass(frozen=True)
class ProcessIdentity:
    """A process, told apart from a later one that reuses its pid by its start time."""

    host: str
    pid: int
    started: str | None

    @classmethod
    def current(cls) -> ProcessIdentity:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid))

    def alive_here(self) -> bool:
        """Whether this process, on this host, still runs (False for another host: unknown)."""
        if self.host != socket.gethostname():
            return False
        if not _pid_running(self.pid):
            return False
        return self.started is None or process_start(self.pid) == self.started


def process_start(pid: int) -> str | None:
    """When ``pid`` started, as boot id and start ticks (Linux ``/proc``); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat.rsplit(")", 1)[-1].split()
    return f"{boot[:8]}:{fields[19]}" if len(fields) > 19 else None


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Lease:
    """A held lease: its fencing token, and whether it is known to be lost."""

    name: str
    holder: str
    token: int
    leases: Leases
    lost: threading.Event = field(default_factory=threading.Event)

    def check(self, conn: Connection) -> None:
        """Inside a commit's transaction: fail (roll back) unless this lease is still ours."""
        if not self.leases.renew_in(conn, self):
            self.lost.set()
            raise LeaseLost(
                f"{self.name}: another run took over this run's lease; this run stops and commits nothing more"
            )

    def renew(self) -> bool:
        """Extend the lease (the heartbeat); False if it was lost."""
        with self.leases.engine.begin() as conn:
            ok = self.leases.renew_in(conn, self)
        if not ok:
            self.lost.set()
        return ok

    def ensure(self) -> None:
        """Raise :class:`LeaseLost` if the heartbeat already found the lease gone."""
        if self.lost.is_set():
            raise LeaseLost(f"{self.name}: another run took over this run's lease; this run stops")


class Leases:
    """The lease table of one state store."""

    def __init__(self, engine: Engine, clock: Clock | None = None, ttl: timedelta = LEASE_TTL) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.ttl = ttl

    def acquire(
        self, name: str, *, identity: ProcessIdentity | None = None, run_id: str | None = None
    ) -> Lease:
        """Take ``name`` or raise :class:`JobLocked` naming who holds it."""
        me = identity or ProcessIdentity.current()
        now = self.clock.now()
        holder = str(uuid.uuid4())
        with self.engine.begin() as conn:
            row = conn.execute(select(t.locks).where(t.locks.c.name == name)).first()
            if row is not None and row.holder and not self._free(row, now):
                raise JobLocked(
                    f"{name} is already running (pid {row.pid} on {row.host} since "
                    f"{row.acquired_at:%Y-%m-%d %H:%M:%S} UTC); wait for it to finish"
                )
            values = {
                "holder": holder, "host": me.host, "pid": me.pid, "started": me.started, "run_id": run_id,
                "acquired_at": now, "heartbeat_at": now, "expires_at": now + self.ttl,
            }  # fmt: skip
            if row is None:
                try:
                    conn.execute(insert(t.locks).values(name=name, token=1, **values))
                except IntegrityError:
                    raise JobLocked(f"{name} is already running; wait for it to finish") from None
                token = 1
            else:
                token = int(row.token or 0) + 1
                taken = conn.execute(
                    update(t.locks)
                    .where(t.locks.c.name == name, t.locks.c.token == row.token)
                    .values(token=token, **values)
                ).rowcount
                if not taken:  # another process took it between our read and our write
                    raise JobLocked(f"{name} is already running; wait for it to finish")
                if row.holder:
                    log.warning("lease.taken_over", name=name, from_host=row.host, from_pid=row.pid,
                                reason="expired" if row.host != me.host else "its process is gone")  # fmt: skip
        return Lease(name, holder, token, self)

    def _free(self, row: Any, now: datetime) -> bool:
        holder = ProcessIdentity(row.host, int(row.pid), row.started)
        if holder.host == socket.gethostname():
            # on this host we know: a live process keeps its lease, a dead one loses it
            return not holder.alive_here()
        return row.expires_at is None or row.expires_at <= now

    def held(self, name: str, *, prefix: bool = False) -> list[str]:
        """The leases named ``name`` (or, with ``prefix``, starting with it) that a live
        holder has now."""
        now = self.clock.now()
        where = t.locks.c.name.startswith(name, autoescape=True) if prefix else t.locks.c.name == name
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.locks).where(where, t.locks.c.holder != "")).all()
        return sorted(row.name for row in rows if not self._free(row, now))

    def renew_in(self, conn: Connection, lease: Lease) -> bool:
        now = self.clock.now()
        return bool(
            conn.execute(
                update(t.locks)
                .where(
                    t.locks.c.name == lease.name, t.locks.c.holder == lease.holder, t.locks.c.token == lease.token
                )
                .values(heartbeat_at=now, expires_at=now + self.ttl)
            ).rowcount
        )

    def release(self, lease: Lease) -> None:
        """Give the lease back (the row and its token stay, for the next holder)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(t.locks)
                .where(t.locks.c.name == lease.name, t.locks.c.holder == lease.holder)
                .values(holder="", expires_at=None)
            )

    @contextmanager
    def hold(self, name: str, *, run_id: str | None = None, heartbeat: bool = True) -> Iterator[Lease]:
        """Hold ``name`` for the duration, renewed by a heartbeat thread; released at the end."""
        with self._advisory(name):
            lease = self.acquire(name, run_id=run_id)
            stop = threading.Event()
            beat = None
            if heartbeat:
                beat = threading.Thread(target=self._beat, args=(lease, stop), name=f"lease-{name}", daemon=True)
                beat.start()
            try:
                yield lease
            finally:
                stop.set()
                if beat is not None:
                    beat.join()
                self.release(lease)

    def _beat(self, lease: Lease, stop: threading.Event) -> None:
        interval = self.ttl.total_seconds() / 6
        while not stop.wait(interval):
            try:
                if not lease.renew():
                    log.error("lease.lost", name=lease.name)
                    return
            except Exception as exc:  # a database hiccup: the next beat tries again, well inside the ttl
                log.warning("lease.renew_failed", name=lease.name, error=str(exc))

    @contextmanager
    def _advisory(self, name: str) -> Iterator[None]:
        """On PostgreSQL, a session advisory lock held on its own connection for the run: the
        server frees it when the process dies, so a crashed run never blocks the next one."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if not got:
                raise JobLocked(f"{name} is already running (held by another process); wait for it to finish")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        finally:
            conn.close()
