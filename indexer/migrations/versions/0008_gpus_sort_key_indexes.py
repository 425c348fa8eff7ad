"""gpus: (sort column, gpu_key) indexes for every sort order

A page sorted by memory, throughput or measurement time is ordered by that column, ties broken
by ``gpu_key``. Memory and throughput had an index of the column alone, whose equal values
(a model's memory is one value for a tenth of the GPUs) were sorted by key before the first
row came out: the whole tie, 125k rows at 1M GPUs. Measurement time had no index, and every
page of it sorted every matching GPU. With the key in the index, the walk is in the page's
order and stops after a page. The one-column indexes are prefixes of the new ones and go.
"""

from __future__ import annotations

from indexer.migrations._ops import create_indexes, drop_indexes, indexed

revision: str = "0008"
down_revision: str | None = "0007"


def upgrade() -> None:
    create_indexes(
        "gpus",
        ("ix_gpus_memory_key", ["memory_bytes", "gpu_key"]),
        ("ix_gpus_throughput_key", ["throughput_gops", "gpu_key"]),
        ("ix_gpus_measured_at_key", ["measured_at", "gpu_key"]),
    )
    drop_indexes("gpus", "ix_gpus_memory_bytes", "ix_gpus_throughput_gops")


def downgrade() -> None:
    create_indexes("gpus", indexed("gpus", "memory_bytes"), indexed("gpus", "throughput_gops"))
    drop_indexes("gpus", "ix_gpus_measured_at_key", "ix_gpus_throughput_key", "ix_gpus_memory_key")
