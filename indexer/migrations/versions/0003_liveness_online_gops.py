"""liveness: verified throughput online per epoch

The explorer's capacity over time: each liveness record keeps the sum of the verified int8
GOPS of the GPUs it saw online, computed when it is indexed (the GPU rows are read then
anyway). Records indexed before this revision hold NULL until `depin indexer rebuild`.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("liveness", schema=None) as batch_op:
        batch_op.add_column(sa.Column("online_gops", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("liveness", schema=None) as batch_op:
        batch_op.drop_column("online_gops")
