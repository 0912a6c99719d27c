"""alert dedup keys fold the dotless i like its upper case (hub.models.fold_case)

``Alert.dedup_key`` folded service and condition with ``casefold`` alone, which keeps the
dotless i (U+0131) while its upper case ``I`` folds to ``i``: the same problem sent in two
cases had two keys. Keys now fold the upper case, which differs from before only there;
stored keys are folded alike so an open problem keeps its ticket instead of opening a
second one. A key whose device id itself holds a ``|`` cannot be split safely and is left.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DOTLESS_I = "\u0131"


def _refolded(key: str) -> str | None:
    parts = key.split("|")
    if len(parts) != 4:
        return None
    folded = [*parts[:2], *(p.replace(DOTLESS_I, "i") for p in parts[2:])]
    new = "|".join(folded)
    return new if new != key else None


def upgrade() -> None:
    bind = op.get_bind()
    table = sa.table("alert_tickets", sa.column("id", sa.BigInteger), sa.column("dedup_key", sa.String))
    rows = bind.execute(sa.select(table.c.id, table.c.dedup_key).where(table.c.dedup_key.contains(DOTLESS_I)))
    for row_id, key in list(rows):
        new = _refolded(key)
        if new is not None:
            bind.execute(sa.update(table).where(table.c.id == row_id).values(dedup_key=new))


def downgrade() -> None:
    """The old keys are not restored: they are the ones that split one problem in two."""
