"""Read queries on the indexer's inventory (its SQLAlchemy models, Core statements).

Every answer carries ``as_of_block``, the indexer's checkpoint read in the same read transaction
as the data (SQLite: an explicit ``BEGIN`` snapshot in WAL mode; PostgreSQL: a REPEATABLE READ
read-only transaction).

- :mod:`~api.inventory.snapshot`: what the indexer last committed;
- :mod:`~api.inventory.predicates`: what "online", "available", "healthy" and "verified" mean,
  for SQL and for Python, and when liveness is recent enough to be told;
- :mod:`~api.inventory.cursor`: keyset pagination and its opaque cursor;
- :mod:`~api.inventory.shaping`: rows as the API answers them;
- :mod:`~api.inventory.gpus`, :mod:`~api.inventory.providers`, :mod:`~api.inventory.stats`,
  :mod:`~api.inventory.changes`: the reads, one module per resource;
- :mod:`~api.inventory.totals`: totals exact up to a limit, estimated beyond;
- :mod:`~api.inventory.export`: every matching GPU as CSV, in keyset chunks;
- :mod:`~api.inventory.search`: one box for a GPU key, an address, a transaction or a model;
- :mod:`~api.inventory.uptime`: uptime over 24 h and 7 d from the decoded bitmaps;
- :mod:`~api.inventory.lru`: the cache of totals (and of pages, in :mod:`api.pagecache`).
"""

from __future__ import annotations

from api.inventory.changes import changes_after, last_change_id
from api.inventory.cursor import Page, decode_cursor, encode_cursor
from api.inventory.export import CSV_FIELDS, EXPORT_CHUNK, gpu_csv
from api.inventory.gpus import (
    GPU_COLUMNS,
    GPU_SORTS,
    GpuFilters,
    get_gpu,
    gpu_attestations,
    gpu_conditions,
    gpu_exists,
    gpu_page_statement,
    gpu_status,
    hinted,
    list_gpus,
)
from api.inventory.lru import LruCache
from api.inventory.predicates import (
    MAX_LIVENESS_LAG,
    is_fresh,
    is_online,
    is_verified,
    offline_sql,
    online_sql,
    verified_sql,
)
from api.inventory.providers import PROVIDER_SORTS, get_provider, list_providers
from api.inventory.search import MAX_QUERY, MIN_QUERY, search
from api.inventory.shaping import gpu_item, provider_item
from api.inventory.snapshot import Snapshot, as_of, indexed_block, latest_epoch, snapshot
from api.inventory.stats import capacity_history, stats
from api.inventory.totals import EXACT_TOTAL_LIMIT, Total, gpu_total
from api.inventory.uptime import WINDOWS, Uptimes

__all__ = [
    "CSV_FIELDS",
    "EXACT_TOTAL_LIMIT",
    "EXPORT_CHUNK",
    "GPU_COLUMNS",
    "GPU_SORTS",
    "MAX_LIVENESS_LAG",
    "MAX_QUERY",
    "MIN_QUERY",
    "PROVIDER_SORTS",
    "WINDOWS",
    "GpuFilters",
    "LruCache",
    "Page",
    "Snapshot",
    "Total",
    "Uptimes",
    "as_of",
    "capacity_history",
    "changes_after",
    "decode_cursor",
    "encode_cursor",
    "get_gpu",
    "get_provider",
    "gpu_attestations",
    "gpu_conditions",
    "gpu_csv",
    "gpu_exists",
    "gpu_item",
    "gpu_page_statement",
    "gpu_status",
    "gpu_total",
    "hinted",
    "indexed_block",
    "is_fresh",
    "is_online",
    "is_verified",
    "last_change_id",
    "latest_epoch",
    "list_gpus",
    "list_providers",
    "offline_sql",
    "online_sql",
    "provider_item",
    "search",
    "snapshot",
    "stats",
    "verified_sql",
]
