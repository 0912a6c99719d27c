"""run leases: a fencing token, an expiry, the holder's process start and run

A lock row now outlives its holder (released rows keep their token, so fencing tokens
only grow), expires unless its heartbeat renews it, and names the process that holds it
precisely enough that a reused pid is not taken for the holder.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("locks") as batch:
        batch.add_column(sa.Column("token", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("started", sa.String(64), nullable=True))
        batch.add_column(sa.Column("run_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("locks") as batch:
        batch.drop_column("run_id")
        batch.drop_column("started")
        batch.drop_column("expires_at")
        batch.drop_column("token")
