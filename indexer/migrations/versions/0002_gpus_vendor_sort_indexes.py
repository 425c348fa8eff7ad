"""gpus: (vendor, sort column, gpu_key) indexes

A vendor filter sorted by throughput or memory walked the sort column's index and skipped
every row of the other vendors first: 350 ms on PostgreSQL at 1M GPUs when another vendor
held the top of the order. With the vendor leading the index, the walk starts at the
vendor's first row in the order. ``ix_gpus_vendor`` is a prefix of ``ix_gpus_vendor_model``
and goes.
"""

from __future__ import annotations

from indexer.migrations._ops import create_indexes, drop_indexes

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    create_indexes(
        "gpus",
        ("ix_gpus_vendor_throughput", ["vendor", "throughput_gops", "gpu_key"]),
        ("ix_gpus_vendor_memory", ["vendor", "memory_bytes", "gpu_key"]),
    )
    drop_indexes("gpus", "ix_gpus_vendor")


def downgrade() -> None:
    create_indexes("gpus", ("ix_gpus_vendor", ["vendor"]))
    drop_indexes("gpus", "ix_gpus_vendor_memory", "ix_gpus_vendor_throughput")
