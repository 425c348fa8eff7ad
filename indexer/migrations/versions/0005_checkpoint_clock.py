"""checkpoint: the chain's clock and the epoch length; an index for liveness filters

The checkpoint records the indexed block's timestamp and the AttestationOracle's immutable
``EPOCH_LENGTH``, so a reader can tell how far the last liveness record lags behind the chain
without asking a node. ``ix_gpus_liveness`` serves the online, available and healthy counts.
Both columns fill on the indexer's next start and block.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("indexed_time", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("epoch_length", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gpus_liveness", ["last_seen_epoch", "available", "healthy"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.drop_index("ix_gpus_liveness")
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_column("epoch_length")
        batch_op.drop_column("indexed_time")
