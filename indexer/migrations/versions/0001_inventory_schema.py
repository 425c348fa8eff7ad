"""inventory schema"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from indexer.migrations._ops import (
    Index,
    create_indexes,
    drop_indexes,
    indexed,
    json_type,
    serial_id,
)

revision: str = "0001"
down_revision: str | None = None


def _logged() -> list[sa.Column[Any]]:
    """Where an event row came from: its transaction, log and block."""
    return [
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
    ]


def _gpu() -> list[sa.Column[Any]]:
    """A GPU as attested: its key, owners, place on the agent and measured figures."""
    return [
        sa.Column("gpu_key", sa.String(length=66), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("agent", sa.String(length=42), nullable=False),
        sa.Column("gpu_index", sa.BigInteger(), nullable=False),
        sa.Column("vendor", sa.String(length=16), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "memory_bytes",
                "throughput_gops",
                "fp32_gflops",
                "fp16_gflops",
                "memory_bandwidth_gbps",
            )
        ),
    ]


def _signed() -> list[sa.Column[Any]]:
    """Who signed a record: the oracle config's version and its signing oracles."""
    return [
        sa.Column("config_version", sa.BigInteger(), nullable=False),
        sa.Column("signers", json_type(), nullable=False),
    ]


def _table(name: str, *columns: sa.Column[Any], key: Sequence[str], **kw: Any) -> None:
    """Creates the table, then its indexes."""
    op.create_table(name, *columns, sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}")), **kw)
    if name in _INDEXES:
        create_indexes(name, *_INDEXES[name])
    if name in _UNIQUE:
        create_indexes(name, *_UNIQUE[name], unique=True)


#: the indexes of each table, created in this order and dropped in the reverse one
_INDEXES: dict[str, list[Index]] = {
    "agents": [indexed("agents", "agent")],
    "attestations": [
        indexed("attestations", "agent"),
        indexed("attestations", "block_number"),
        ("ix_attestations_gpu_key_block", ["gpu_key", "block_number"]),
        indexed("attestations", "provider"),
    ],
    "changes": [indexed("changes", "block_number")],
    "gpus": [
        *(
            indexed("gpus", column)
            for column in (
                "agent",
                "expires_at",
                "gpu_index",
                "memory_bytes",
                "model",
                "online",
                "provider",
                "throughput_gops",
                "vendor",
            )
        ),
        ("ix_gpus_vendor_model", ["vendor", "model"]),
    ],
    "liveness": [indexed("liveness", "block_number"), indexed("liveness", "epoch")],
    "providers": [indexed("providers", c) for c in ("name", "region", "status")],
    "undo_log": [indexed("undo_log", "block_number")],
}
_UNIQUE = {"events": [("uq_events_tx_hash_log_index", ["tx_hash", "log_index"])]}
#: every table, in the order they are created
_TABLES = [
    "agents",
    "attestations",
    "blocks",
    "changes",
    "checkpoint",
    "events",
    "gpus",
    "liveness",
    "oracle_configs",
    "providers",
    "undo_log",
]


def upgrade() -> None:
    _table(
        "agents",
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("agent", sa.String(length=42), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("authorized_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        key=["provider", "agent"],
    )
    _table(
        "attestations",
        *_logged(),
        *_gpu(),
        sa.Column("challenge", sa.String(length=66), nullable=False),
        sa.Column("measured_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        *_signed(),
        key=["tx_hash", "log_index"],
    )
    _table(
        "blocks",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        key=["number"],
    )
    _table(
        "changes",
        serial_id(),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=66), nullable=True),
        sa.Column("data", json_type(), nullable=False),
        key=["id"],
        sqlite_autoincrement=True,
    )
    _table(
        "checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contracts", json_type(), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("indexed_block", sa.BigInteger(), nullable=False),
        sa.Column("indexed_hash", sa.String(length=66), nullable=True),
        sa.Column("head_block", sa.BigInteger(), nullable=False),
        sa.Column("finalized_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        key=["id"],
    )
    _table(
        "events",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("args", json_type(), nullable=False),
        key=["block_number", "log_index"],
    )
    _table(
        "gpus",
        *_gpu(),
        sa.Column("measured_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("revoked_by_provider", sa.Boolean(), nullable=True),
        sa.Column("last_seen_epoch", sa.BigInteger(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        *_signed(),
        sa.Column("attestation_tx", sa.String(length=66), nullable=False),
        sa.Column("first_attested_block", sa.BigInteger(), nullable=False),
        sa.Column("attested_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        key=["gpu_key"],
    )
    _table(
        "liveness",
        *_logged(),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("gpu_indexes", json_type(), nullable=False),
        sa.Column("online_count", sa.Integer(), nullable=False),
        sa.Column("bitmap", sa.Text(), nullable=False),
        *_signed(),
        key=["tx_hash", "log_index"],
    )
    _table(
        "oracle_configs",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("oracles", json_type(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        key=["version"],
    )
    _table(
        "providers",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("region", sa.String(length=128), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("metadata_uri", sa.Text(), nullable=False),
        sa.Column("metadata_hash", sa.String(length=66), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.Column("registered_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("deregistered_at", sa.BigInteger(), nullable=True),
        key=["address"],
    )
    _table(
        "undo_log",
        serial_id(),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("key", json_type(), nullable=False),
        sa.Column("image", json_type(), nullable=True),
        key=["id"],
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for table in reversed(_TABLES):
        indexes = _INDEXES.get(table, []) + _UNIQUE.get(table, [])
        if indexes:
            drop_indexes(table, *(name for name, _ in reversed(indexes)))
        op.drop_table(table)
