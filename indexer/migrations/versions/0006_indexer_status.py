"""indexer status: last progress and why the indexer halted

One row the indexer keeps up to date (the time and block of its last step that worked; the
reason, time and details of a halt on something no retry heals), read by
`depin indexer status` and the API's health check.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from indexer.migrations._ops import json_type

revision: str = "0006"
down_revision: str | None = "0005"


def upgrade() -> None:
    op.create_table(
        "indexer_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("progress_at", sa.BigInteger(), nullable=True),
        sa.Column("progress_block", sa.BigInteger(), nullable=True),
        sa.Column("halted_at", sa.BigInteger(), nullable=True),
        sa.Column("halt_reason", sa.String(length=32), nullable=True),
        sa.Column("halt_detail", json_type(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indexer_status")),
    )


def downgrade() -> None:
    op.drop_table("indexer_status")
