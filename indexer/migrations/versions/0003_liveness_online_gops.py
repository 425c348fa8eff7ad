"""liveness: verified throughput online per epoch

The explorer's capacity over time: each liveness record keeps the sum of the verified int8
GOPS of the GPUs it saw online, computed when it is indexed (the GPU rows are read then
anyway). Records indexed before this revision hold NULL until `depin indexer rebuild`.
"""

from __future__ import annotations

import sqlalchemy as sa

from indexer.migrations._ops import add_columns, drop_columns

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    add_columns("liveness", sa.Column("online_gops", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    drop_columns("liveness", "online_gops")
