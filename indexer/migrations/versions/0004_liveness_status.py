"""liveness: each GPU's availability and health beside "online"

Liveness records carry three bitmaps (online, available, healthy); the GPU rows keep the status
of the last epoch that saw them online. Records indexed before this revision hold NULL until
`depin indexer rebuild`.
"""

from __future__ import annotations

import sqlalchemy as sa

from indexer.migrations._ops import add_columns, drop_columns

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    add_columns(
        "liveness",
        sa.Column("available_count", sa.Integer(), nullable=True),
        sa.Column("healthy_count", sa.Integer(), nullable=True),
        sa.Column("available", sa.Text(), nullable=True),
        sa.Column("healthy", sa.Text(), nullable=True),
    )
    add_columns(
        "gpus",
        sa.Column("available", sa.Boolean(), nullable=True),
        sa.Column("healthy", sa.Boolean(), nullable=True),
    )


def downgrade() -> None:
    drop_columns("gpus", "healthy", "available")
    drop_columns("liveness", "healthy", "available", "healthy_count", "available_count")
