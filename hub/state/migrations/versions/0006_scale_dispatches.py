"""the work ledger of scale-out: every unit of work handed to the Celery workers

One row per unit of work a schedule or an event asked for (a sync, the workflow tick,
the lifecycle rules ...), under a unique key (``schedule:<name>:<slot>``), so a slot
fires once however many schedulers ran, a worker claims a row with one conditional
update, and a unit whose message or worker was lost is sent again.

Revision ID: 0006_scale
Revises: 0005
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_scale"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("task", sa.String(100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=True),
        sa.Column("queue", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claimed_by", sa.String(300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("key", name="uq_dispatch_key"),
    )
    op.create_index("ix_dispatches_open", "dispatches", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_dispatches_open", table_name="dispatches")
    op.drop_table("dispatches")
