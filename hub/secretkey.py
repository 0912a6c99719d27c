"""The hub's own secret: it encrypts credentials kept in the state store and signs sessions.

The key comes from ``HUB_SECRET_KEY`` where it is set. Otherwise, with a SQLite store,
it is generated once into ``secret.key`` beside the store file (mode 0600), the way
n8n and Airflow keep their encryption key beside their data: a new user needs no extra
setting, and copying the store folder keeps what it encrypted readable. With PostgreSQL
every process on every host must hold the same key, so ``HUB_SECRET_KEY`` is required.

Each use gets its own key derived from the master key (HMAC-SHA256 over its purpose), so
a session cookie's signature never reveals the key that encrypts a refresh token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.settings import HubSettings

__all__ = ["KEY_FILE", "derive", "master_key", "store_key"]

KEY_FILE = "secret.key"


def master_key(settings: HubSettings) -> bytes:
    """The master key: ``HUB_SECRET_KEY``, or the key file beside a SQLite store."""
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < 16:
            raise ConfigError("HUB_SECRET_KEY: too short; use at least 16 random characters")
        return hashlib.sha256(value.encode("utf-8")).digest()
    return store_key(settings.state_url)


def store_key(url: str) -> bytes:
    """The key that lives with a SQLite store (``secret.key`` beside its file); other stores
    need ``HUB_SECRET_KEY``."""
    if not url.startswith("sqlite"):
        raise ConfigError(
            "HUB_SECRET_KEY: required but not set (a state store shared by several processes needs one key "
            "for all of them; e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    path = url.split("///", 1)[1] if "///" in url else ""
    if path in ("", ":memory:") or path.startswith(":memory:"):
        return _process_key()
    return _file_key(Path(path).expanduser().parent / KEY_FILE)


def derive(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose`` (``"store-credentials"``, ``"console-session"``)."""
    return hmac.new(master, purpose.encode("utf-8"), hashlib.sha256).digest()


_PROCESS_KEY: bytes | None = None


def _process_key() -> bytes:
    """An in-memory store lives as long as its process, and so may its key."""
    global _PROCESS_KEY
    if _PROCESS_KEY is None:
        _PROCESS_KEY = secrets.token_bytes(32)
    return _PROCESS_KEY


def _file_key(path: Path) -> bytes:
    """Read the key file, or create it (0600) if there is none.

    Two commands may start at once on a new machine: the key is written to a private
    temporary file and hard-linked into place, which fails if another process won, so
    every process ends up reading the one complete file.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        key = base64.urlsafe_b64decode(text.encode("ascii"))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError(f"{path}: not a key written by the hub; restore it, or set HUB_SECRET_KEY")
    return key
