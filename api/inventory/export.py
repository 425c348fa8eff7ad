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
#: rows per piece of the response (a query's rows are read one at a time, not held)
_FLUSH = 500
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
    """The header row, then the matching GPUs in ``sort``'s keyset order: one query per
    ``chunk`` rows, each row turned into CSV as it is read and sent in pieces of a few
    hundred rows; all read in ``session``'s snapshot ``known``."""
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
    yield _drain(buffer)
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
        read = 0
        last: Any = None
        for row in session.execute(statement):
            item = gpu_item(
                row, row.region, known.epoch, filters.online_epochs, now, fresh=known.fresh
            )
            writer.writerow([_cell(item[name]) for name in CSV_FIELDS])
            read += 1
            last = row
            if read % _FLUSH == 0:
                yield _drain(buffer)
        if buffer.tell():
            yield _drain(buffer)
        if read < chunk:
            return
        after = (getattr(last, column.key), last.gpu_key)


def _drain(buffer: io.StringIO) -> bytes:
    """What ``buffer`` holds, encoded; the buffer is left empty."""
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data
