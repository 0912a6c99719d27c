"""Key/value state (``kv``), one namespace per user, with credentials encrypted at rest."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from hub.errors import ConfigError
from hub.logging import is_secret_key
from hub.secretkey import derive
from hub.state import tables as t
from hub.state.rows import now

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["KVNamespace", "KeyValues", "holds_secret"]

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


class KeyValues:
    """The ``kv`` table and the key that seals credentials in it."""

    def __init__(self, engine: Engine, key: Callable[[], bytes]) -> None:
        self.engine = engine
        self._key = key
        self._cipher: Fernet | None = None

    def namespace(self, name: str) -> KVNamespace:
        return KVNamespace(self, name)

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

    def set_in(self, conn: Connection, namespace: str, key: str, value: Any) -> None:
        """Write one value in the caller's transaction (stored as given: no sealing)."""
        updated = conn.execute(
            update(t.kv)
            .where(t.kv.c.namespace == namespace, t.kv.c.key == key)
            .values(value=value, updated_at=now())
        ).rowcount
        if not updated:
            conn.execute(insert(t.kv).values(namespace=namespace, key=key, value=value, updated_at=now()))


class KVNamespace:
    """A :class:`hub.connector.KeyValueStore` over the ``kv`` table, one namespace each.

    A value that holds a credential (its key, or any key inside it, names a secret:
    ``refresh_token``, ``api_key``, ...) is encrypted at rest with the store's key
    (Fernet: AES-128-CBC with an HMAC-SHA256, from ``cryptography``), so a copied store
    file gives away no QuickBooks refresh token.
    """

    def __init__(self, values: KeyValues, namespace: str) -> None:
        self._values = values
        self._ns = namespace

    def get(self, key: str) -> Any | None:
        with self._values.engine.connect() as conn:
            value = conn.execute(
                select(t.kv.c.value).where(t.kv.c.namespace == self._ns, t.kv.c.key == key)
            ).scalar_one_or_none()
        if isinstance(value, dict) and set(value) == {_SEALED}:
            return self._values.unseal(value[_SEALED], f"{self._ns} {key}")
        return value

    def set(self, key: str, value: Any) -> None:
        """Write atomically (committed before returning): e.g. a rotated refresh token."""
        if holds_secret(key, value):
            value = {_SEALED: self._values.seal(value)}
        with self._values.engine.begin() as conn:
            self._values.set_in(conn, self._ns, key, value)

    def delete(self, key: str) -> None:
        with self._values.engine.begin() as conn:
            conn.execute(delete(t.kv).where(t.kv.c.namespace == self._ns, t.kv.c.key == key))
