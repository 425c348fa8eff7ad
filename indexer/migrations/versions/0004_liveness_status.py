"""liveness: each GPU's availability and health beside "online"

Liveness records carry three bitmaps (online, available, healthy); the GPU rows keep the status
of the last epoch that saw them online. Records indexed before this revision hold NULL until
`depin indexer rebuild`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("liveness", schema=None) as batch_op:
        batch_op.add_column(sa.Column("available_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("healthy_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("available", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("healthy", sa.Text(), nullable=True))
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.add_column(sa.Column("available", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("healthy", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.drop_column("healthy")
        batch_op.drop_column("available")
    with op.batch_alter_table("liveness", schema=None) as batch_op:
        batch_op.drop_column("healthy")
        batch_op.drop_column("available")
        batch_op.drop_column("healthy_count")
        batch_op.drop_column("available_count")
