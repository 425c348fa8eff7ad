"""checkpoint: the chain's clock and the epoch length; an index for liveness filters

The checkpoint records the indexed block's timestamp and the AttestationOracle's immutable
``EPOCH_LENGTH``, so a reader can tell how far the last liveness record lags behind the chain
without asking a node. ``ix_gpus_liveness`` serves the online, available and healthy counts.
Both columns fill on the indexer's next start and block.
"""

from __future__ import annotations

import sqlalchemy as sa

from indexer.migrations._ops import add_columns, create_indexes, drop_columns, drop_indexes

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    add_columns(
        "checkpoint",
        sa.Column("indexed_time", sa.BigInteger(), nullable=True),
        sa.Column("epoch_length", sa.BigInteger(), nullable=True),
    )
    create_indexes("gpus", ("ix_gpus_liveness", ["last_seen_epoch", "available", "healthy"]))


def downgrade() -> None:
    drop_indexes("gpus", "ix_gpus_liveness")
    drop_columns("checkpoint", "epoch_length", "indexed_time")
