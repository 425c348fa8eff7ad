"""Every GPU a filter matches, as CSV, read in keyset chunks so memory stays bounded."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.inventory._tables import GPU_SOURCE, G, P
from api.inventory.cursor import decode_cursor, keyset, order
from api.inventory.gpus import GPU_COLUMNS, GPU_SORTS, GpuFilters, gpu_conditions
from api.inventory.shaping import gpu_item
from api.inventory.snapshot import Snapshot

#: rows per query (and per chunk of the response)
EXPORT_CHUNK = 5_000
#: the columns of the export, in order (a GPU's fields, without its uptimes)
CSV_FIELDS = (
    "gpu_key",
    "provider",
    "agent",
    "region",
    "gpu_index",
    "vendor",
    "vendor_id",
    "model",
    "simulated",
    "memory_bytes",
    "throughput_gops",
    "fp32_gflops",
    "fp16_gflops",
    "memory_bandwidth_gbps",
    "measured_at",
    "expires_at",
    "revoked",
    "revoked_by_provider",
    "verified",
    "online",
    "available",
    "healthy",
    "last_seen_epoch",
    "config_version",
    "signers",
    "attestation_tx",
    "first_attested_block",
    "attested_block",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value


def gpu_csv(
    session: Session,
    filters: GpuFilters,
    known: Snapshot,
    *,
    sort: str,
    cursor: str | None = None,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[bytes]:
    """The header row, then the matching GPUs in ``sort``'s keyset order, one encoded chunk
    of at most ``chunk`` rows per query; all read in ``session``'s snapshot ``known``."""
    now = int(time.time())
    dialect = session.get_bind().dialect.name
    column, descending = GPU_SORTS[sort]
    where, _ = gpu_conditions(
        filters, known.epoch, now, sort_column=column, dialect=dialect, fresh=known.fresh
    )
    after = decode_cursor(cursor, sort) if cursor is not None else None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    yield buffer.getvalue().encode()
    while True:
        statement = (
            select(*GPU_COLUMNS, P.region)
            .select_from(GPU_SOURCE)
            .where(*where)
            .order_by(*order(column, G.gpu_key, descending))
            .limit(chunk)
        )
        if after is not None:
            statement = statement.where(keyset(column, G.gpu_key, descending, *after))
        rows = session.execute(statement).all()
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            item = gpu_item(
                row, row.region, known.epoch, filters.online_epochs, now, fresh=known.fresh
            )
            writer.writerow([_cell(item[name]) for name in CSV_FIELDS])
        yield buffer.getvalue().encode()
        if len(rows) < chunk:
            return
        last = rows[-1]
        after = (getattr(last, column.key), last.gpu_key)
        del rows
