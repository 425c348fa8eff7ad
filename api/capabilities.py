"""Capability documents at the API: stored content-addressed in the API's own state, with the
per-GPU facets the inventory's filters read.

Two tables of the API's state (the SQLite file beside the API, or the PostgreSQL database it
shares with the inventory; made by the state's migration 0006), never written by the indexer:

- ``capability_documents``: each document by its hash (keccak256 of its RFC 8785 bytes), the
  canonical bytes as text.
- ``capability_facets``: one row per GPU of each document (:func:`depin.capabilities.gpu_facets`),
  an index on each filterable column.

A document is taken only when the chain attested its hash for some GPU (``gpus.capabilities``
in the inventory). A GPU's facets apply only while its latest attestation names that document:
the inventory's filters match ``(gpus.capabilities, gpus.gpu_key)`` against the facet rows.

The inventory's read-only connections see the tables under the schema name ``api_state``: on
SQLite the state file is attached under that name to each connection; on PostgreSQL the name is
translated to the default schema (the tables sit in the same database).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    event,
    select,
)
from sqlalchemy.orm import Session

from depin.capabilities import CapabilityDocument, canonical_bytes, document_hash, gpu_facets
from depin.crypto import to_hex

__all__ = [
    "DOCUMENTS",
    "FACETS",
    "GENERATION",
    "SCHEMA_NAME",
    "attach_state",
    "document_of",
    "store_document",
]

#: the schema name under which the inventory's connections read the API's state
SCHEMA_NAME = "api_state"

_metadata = MetaData(schema=SCHEMA_NAME)

DOCUMENTS = Table(
    "capability_documents",
    _metadata,
    Column("document_hash", String(66), primary_key=True),
    Column("body", Text, nullable=False),
    Column("stored_at", BigInteger, nullable=False),
    # the newest documents, read by the in-memory GPU index (revision 0008)
    Index("ix_capability_documents_stored_at", "stored_at"),
)

#: one row (``id`` 1) whose ``value`` grows by one with each document stored (revision 0008)
GENERATION = Table(
    "capability_generation",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)
_FACET_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("driver_key", String(35)),
    ("cuda_key", String(35)),
    ("rocm_key", String(35)),
    ("compute_capability_key", String(35)),
    ("interconnect", String(8)),
    ("mig", Boolean),
    ("pcie_gen", Integer),
    ("host_cpu_cores", BigInteger),
    ("host_ram_gib", BigInteger),
    ("host_disk_gib", BigInteger),
    ("runtime_docker", Boolean),
    ("runtime_podman", Boolean),
    ("runtime_nvidia", Boolean),
    ("gpus_per_host", Integer),
)

FACETS = Table(
    "capability_facets",
    _metadata,
    Column("document_hash", String(66), nullable=False),
    Column("gpu_key", String(66), nullable=False),
    Column("driver_version", String(200)),
    *(Column(name, kind) for name, kind in _FACET_COLUMNS),
    PrimaryKeyConstraint("document_hash", "gpu_key", name="pk_capability_facets"),
    *(Index(f"ix_capability_facets_{name}", name) for name, _ in _FACET_COLUMNS),
)


# --------------------------------------------------------------------------- reading them


def attach_state(inventory: Engine, state: Any) -> None:
    """Lets the inventory's connections read the capability tables (see the module); the
    state's own migrations (``api/migrations``, revision 0006) made them."""
    path: Path | None = getattr(state, "path", None)
    if inventory.dialect.name == "sqlite" and path is not None:

        @event.listens_for(inventory, "connect")
        def _attach(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"ATTACH DATABASE ? AS {SCHEMA_NAME}", (str(path),))
            cursor.close()

        return
    inventory.update_execution_options(schema_translate_map={SCHEMA_NAME: None})


# --------------------------------------------------------------------------- writes and reads


def attested_gpus(session: Session, key: str) -> list[str]:
    """The GPUs whose latest attestation names the document ``key``."""
    from api.inventory._tables import G

    rows = session.execute(select(G.gpu_key).where(G.capabilities == key).order_by(G.gpu_key)).all()
    return [str(r.gpu_key) for r in rows]


def store_document(state: Any, document: CapabilityDocument) -> bool:
    """Stores the document and its facets (once per hash); whether it was new."""
    key = to_hex(document_hash(document))
    body = canonical_bytes(document).decode()
    columns = ["document_hash", "gpu_key", "driver_version", *(n for n, _ in _FACET_COLUMNS)]
    insert_facet = (
        f"INSERT INTO capability_facets ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING"
    )
    with state.transaction() as tx:
        tx.lock(f"depin.api.capabilities:{key}")
        new = (
            tx.execute(
                "INSERT INTO capability_documents (document_hash, body, stored_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (key, body, int(time.time())),
            ).rowcount
            == 1
        )
        if new:
            tx.execute("UPDATE capability_generation SET value = value + 1 WHERE id = 1")
            for facet in gpu_facets(document):
                values = {
                    "document_hash": key,
                    "gpu_key": to_hex(facet.gpu_key),
                    **{name: getattr(facet, name) for name in columns[2:]},
                }
                tx.execute(insert_facet, tuple(values[name] for name in columns))
    return bool(new)


def document_text(session: Session, key: str) -> str | None:
    """The stored document ``key`` in its canonical bytes (as text), read through the
    inventory's connection."""
    row = session.execute(select(DOCUMENTS.c.body).where(DOCUMENTS.c.document_hash == key)).first()
    return None if row is None else str(row.body)


def document_body(session: Session, key: str) -> dict[str, Any] | None:
    """The stored document ``key`` as JSON."""
    text = document_text(session, key)
    if text is None:
        return None
    body: dict[str, Any] = json.loads(text)
    return body


def document_of(session: Session, key: str | None, gpu_key: str) -> dict[str, Any] | None:
    """The part of document ``key`` about ``gpu_key`` and its host, or None when the document
    is not stored or does not list the GPU."""
    if key is None:
        return None
    body = document_body(session, key)
    if body is None:
        return None
    gpu = next((g for g in body.get("gpus", []) if g.get("gpu_key") == gpu_key), None)
    if gpu is None:
        return None
    return {
        "document_hash": key,
        "schema": body["schema"],
        "gpus_per_host": len(body["gpus"]),
        "gpu": gpu,
        "host": body["host"],
    }
