"""The people who may use the web console, their roles, and failed sign-ins.

Passwords are kept only as Argon2id hashes (``argon2-cffi``'s defaults, the parameters
RFC 9106 recommends); a hash made with older parameters is replaced at the next
successful sign-in. Every change to a person is one transaction with its audit row,
so ``hub users`` and the console's Users page leave the same trail.

Failed sign-ins are rows keyed by the name tried and by the address they came from;
past ``login_attempts`` within the window, further attempts are refused before the
password is even checked, so guessing is slow for one name from many addresses and
for many names from one address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.errors import ConfigError
from hub.state import tables as t
from hub.state.store import StateStore

__all__ = ["Account", "AccountStore", "LoginLimiter", "Role", "check_password"]

#: names people sign in with: letters, digits and . _ @ - (an e-mail address fits)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD = 10
#: a hash to verify against when the name is unknown, so an unknown name takes as long as a wrong password
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to check an unknown name's password against, so it takes as long as a known
    name's (made on first use: an Argon2 hash costs a tenth of a second, too much for
    every command's start)."""
    return _HASHER.hash("not a password of anyone")


class Role(StrEnum):
    """What a person may do; each role may do everything the ones before it may."""

    viewer = "viewer"  # reads every page
    operator = "operator"  # also confirms steps, starts workflows and syncs, retries and discards
    admin = "admin"  # also manages the people who use the console

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise ConfigError(f"role must be one of {', '.join(r.value for r in Role)}, got {value!r}") from None


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"user name {name!r}: use letters, digits and . _ @ - (at most 100, starting with a letter or digit)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password: too short; use at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise ConfigError("password: starts or ends with a space (a copy-and-paste slip?)")
    return password


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    session_version: int
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _account(row: object) -> Account:
    return Account(
        name=row.name,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        session_version=row.session_version,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        updated_at=row.updated_at,  # type: ignore[attr-defined]
    )


class AccountStore:
    """``console_users``: add, list, remove, change password or role, verify a sign-in."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def get(self, name: str) -> Account | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.console_users).where(t.console_users.c.name == name)).first()
        return _account(row) if row is not None else None

    def list(self) -> list[Account]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(t.console_users).order_by(t.console_users.c.name)).all()
        return [_account(r) for r in rows]

    def count(self, role: Role | None = None) -> int:
        stmt = select(func.count()).select_from(t.console_users)
        if role is not None:
            stmt = stmt.where(t.console_users.c.role == role.value)
        with self.store.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def add(self, name: str, role: Role, password: str, *, actor: str) -> Account:
        check_name(name)
        check_password(password)
        now = datetime.now(UTC)
        with self.store.transaction() as conn:
            if conn.execute(select(t.console_users.c.name).where(t.console_users.c.name == name)).first():
                raise ConfigError(f"user {name!r} already exists (hub users passwd {name} changes the password)")
            statement = (
                insert(t.console_users).values(
                    name=name,
                    role=role.value,
                    password_hash=_HASHER.hash(password),
                    session_version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            try:
                conn.execute(statement)
            except IntegrityError:  # added by someone else a moment ago
                raise ConfigError(f"user {name!r} already exists") from None
            self._audit(conn, actor, "user.added", name, after={"role": role.value})
        account = self.get(name)
        assert account is not None
        return account

    def remove(self, name: str, *, actor: str) -> None:
        with self.store.transaction() as conn:
            row = conn.execute(select(t.console_users).where(t.console_users.c.name == name)).first()
            if row is None:
                raise ConfigError(f"no user {name!r} (see hub users list)")
            self._keep_an_admin(conn, row.role, None)
            conn.execute(delete(t.console_users).where(t.console_users.c.name == name))
            self._audit(conn, actor, "user.removed", name, before={"role": row.role})

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        """A new password; every session of the person ends."""
        check_password(password)
        self._change(name, actor, "user.password", password_hash=_HASHER.hash(password))

    def set_role(self, name: str, role: Role, *, actor: str) -> None:
        self._change(name, actor, "user.role", role=role)

    def end_sessions(self, name: str, *, actor: str) -> None:
        self._change(name, actor, "user.signed_out")

    def _change(
        self, name: str, actor: str, operation: str, *, password_hash: str | None = None, role: Role | None = None
    ) -> None:
        with self.store.transaction() as conn:
            row = conn.execute(select(t.console_users).where(t.console_users.c.name == name)).first()
            if row is None:
                raise ConfigError(f"no user {name!r} (see hub users list)")
            values: dict[str, object] = {
                "updated_at": datetime.now(UTC),
                "session_version": row.session_version + 1,
            }
            if password_hash is not None:
                values["password_hash"] = password_hash
            if role is not None:
                self._keep_an_admin(conn, row.role, role)
                values["role"] = role.value
                if role.value == row.role:
                    return
            conn.execute(update(t.console_users).where(t.console_users.c.name == name).values(**values))
            after = {"role": role.value} if role is not None else None
            self._audit(conn, actor, operation, name, before={"role": row.role} if role else None, after=after)

    @staticmethod
    def _keep_an_admin(conn: object, current: str, new: Role | None) -> None:
        """Refuse to remove or demote the last admin: nobody could manage the people any more."""
        if current != Role.admin.value or new is Role.admin:
            return
        admins = conn.execute(  # type: ignore[attr-defined]
            select(func.count()).where(t.console_users.c.role == Role.admin.value)
        ).scalar_one()
        if admins <= 1:
            raise ConfigError("this is the last admin; make someone else admin first")

    def verify(self, name: str, password: str) -> Account | None:
        """The account if ``password`` is its password; None otherwise (in the same time either way)."""
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.console_users).where(t.console_users.c.name == name)).first()
        stored = row.password_hash if row is not None else _dummy_hash()
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _HASHER.check_needs_rehash(stored):
            with self.store.transaction() as conn:
                conn.execute(
                    update(t.console_users)
                    .where(t.console_users.c.name == name)
                    .values(password_hash=_HASHER.hash(password))
                )
        return _account(row)

    def _audit(
        self,
        conn: object,
        actor: str,
        operation: str,
        name: str,
        before: object = None,
        after: object = None,
    ) -> None:
        self.store.audit(
            conn,  # type: ignore[arg-type]
            actor=actor,
            system="console",
            entity="user",
            operation=operation,
            record_id=name,
            before=before,
            after=after,
        )


class LoginLimiter:
    """Failed sign-ins per name and per address within a window, shared through the store."""

    def __init__(self, store: StateStore, attempts: int, window: timedelta) -> None:
        self.store = store
        self.attempts = attempts
        self.window = window

    @staticmethod
    def keys(name: str, address: str) -> list[str]:
        return [f"user:{name.lower()[:200]}", f"addr:{address}"]

    def blocked(self, name: str, address: str, now: datetime) -> bool:
        since = now - self.window
        with self.store.engine.connect() as conn:
            for key in self.keys(name, address):
                count = conn.execute(
                    select(func.count()).where(
                        t.console_login_failures.c.key == key, t.console_login_failures.c.at > since
                    )
                ).scalar_one()
                if count >= self.attempts:
                    return True
        return False

    def failed(self, name: str, address: str, now: datetime) -> None:
        with self.store.transaction() as conn:
            # old rows go as new ones come, so the table stays as small as the window
            conn.execute(delete(t.console_login_failures).where(t.console_login_failures.c.at <= now - self.window))
            conn.execute(insert(t.console_login_failures), [{"key": k, "at": now} for k in self.keys(name, address)])

    def succeeded(self, name: str) -> None:
        """A correct password clears the name's count (not the address's: one address may try many names)."""
        with self.store.transaction() as conn:
            key = self.keys(name, "")[0]
            conn.execute(delete(t.console_login_failures).where(t.console_login_failures.c.key == key))
