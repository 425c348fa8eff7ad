"""gpus: (vendor, sort column, gpu_key) indexes

A vendor filter sorted by throughput or memory walked the sort column's index and skipped
every row of the other vendors first: 350 ms on PostgreSQL at 1M GPUs when another vendor
held the top of the order. With the vendor leading the index, the walk starts at the
vendor's first row in the order. ``ix_gpus_vendor`` is a prefix of ``ix_gpus_vendor_model``
and goes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gpus_vendor_throughput", ["vendor", "throughput_gops", "gpu_key"], unique=False
        )
        batch_op.create_index(
            "ix_gpus_vendor_memory", ["vendor", "memory_bytes", "gpu_key"], unique=False
        )
        batch_op.drop_index("ix_gpus_vendor")


def downgrade() -> None:
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.create_index("ix_gpus_vendor", ["vendor"], unique=False)
        batch_op.drop_index("ix_gpus_vendor_memory")
        batch_op.drop_index("ix_gpus_vendor_throughput")
