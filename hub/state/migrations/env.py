"""Alembic environment: run by :func:`hub.state.store.migrate`, never by hand-edited ini files.

The connection comes from ``config.attributes["connection"]`` so that the store
migrates inside the connection (and, for SQLite, the file) it will use.
"""

from __future__ import annotations

from alembic import context

from hub.state.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for `alembic revision --autogenerate` by developers
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://").connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
