"""drop ix_crosswalk_hub_id: uq_crosswalk_hub_system (hub_id, system) serves its lookups

Every link a sync writes maintained both indexes, each keyed by a random UUID; at a
hundred thousand companies that second random-order B-tree was a measurable share of
the page commits.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_crosswalk_hub_id", table_name="crosswalk")


def downgrade() -> None:
    op.create_index("ix_crosswalk_hub_id", "crosswalk", ["hub_id"], unique=False)
