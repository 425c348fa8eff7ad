"""inventory schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("agent", sa.String(length=42), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("authorized_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "agent", name=op.f("pk_agents")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_agent"), ["agent"], unique=False)

    op.create_table(
        "attestations",
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("gpu_key", sa.String(length=66), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("agent", sa.String(length=42), nullable=False),
        sa.Column("gpu_index", sa.BigInteger(), nullable=False),
        sa.Column("vendor", sa.String(length=16), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("throughput_gops", sa.BigInteger(), nullable=False),
        sa.Column("fp32_gflops", sa.BigInteger(), nullable=False),
        sa.Column("fp16_gflops", sa.BigInteger(), nullable=False),
        sa.Column("memory_bandwidth_gbps", sa.BigInteger(), nullable=False),
        sa.Column("challenge", sa.String(length=66), nullable=False),
        sa.Column("measured_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("config_version", sa.BigInteger(), nullable=False),
        sa.Column(
            "signers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tx_hash", "log_index", name=op.f("pk_attestations")),
    )
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attestations_agent"), ["agent"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_attestations_block_number"), ["block_number"], unique=False
        )
        batch_op.create_index(
            "ix_attestations_gpu_key_block", ["gpu_key", "block_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_attestations_provider"), ["provider"], unique=False)

    op.create_table(
        "blocks",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_blocks")),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=66), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_changes_block_number"), ["block_number"], unique=False)

    op.create_table(
        "checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "contracts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("indexed_block", sa.BigInteger(), nullable=False),
        sa.Column("indexed_hash", sa.String(length=66), nullable=True),
        sa.Column("head_block", sa.BigInteger(), nullable=False),
        sa.Column("finalized_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint")),
    )
    op.create_table(
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
        sa.Column(
            "args",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("uq_events_tx_hash_log_index", ["tx_hash", "log_index"], unique=True)

    op.create_table(
        "gpus",
        sa.Column("gpu_key", sa.String(length=66), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("agent", sa.String(length=42), nullable=False),
        sa.Column("gpu_index", sa.BigInteger(), nullable=False),
        sa.Column("vendor", sa.String(length=16), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("throughput_gops", sa.BigInteger(), nullable=False),
        sa.Column("fp32_gflops", sa.BigInteger(), nullable=False),
        sa.Column("fp16_gflops", sa.BigInteger(), nullable=False),
        sa.Column("memory_bandwidth_gbps", sa.BigInteger(), nullable=False),
        sa.Column("measured_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("revoked_by_provider", sa.Boolean(), nullable=True),
        sa.Column("last_seen_epoch", sa.BigInteger(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("config_version", sa.BigInteger(), nullable=False),
        sa.Column(
            "signers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("attestation_tx", sa.String(length=66), nullable=False),
        sa.Column("first_attested_block", sa.BigInteger(), nullable=False),
        sa.Column("attested_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("gpu_key", name=op.f("pk_gpus")),
    )
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gpus_agent"), ["agent"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpus_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpus_gpu_index"), ["gpu_index"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpus_memory_bytes"), ["memory_bytes"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpus_model"), ["model"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpus_online"), ["online"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpus_provider"), ["provider"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_gpus_throughput_gops"), ["throughput_gops"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_gpus_vendor"), ["vendor"], unique=False)
        batch_op.create_index("ix_gpus_vendor_model", ["vendor", "model"], unique=False)

    op.create_table(
        "liveness",
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column(
            "gpu_indexes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("online_count", sa.Integer(), nullable=False),
        sa.Column("bitmap", sa.Text(), nullable=False),
        sa.Column("config_version", sa.BigInteger(), nullable=False),
        sa.Column(
            "signers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tx_hash", "log_index", name=op.f("pk_liveness")),
    )
    with op.batch_alter_table("liveness", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_liveness_block_number"), ["block_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_liveness_epoch"), ["epoch"], unique=False)

    op.create_table(
        "oracle_configs",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "oracles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_oracle_configs")),
    )
    op.create_table(
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
        sa.PrimaryKeyConstraint("address", name=op.f("pk_providers")),
    )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_providers_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_providers_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_providers_status"), ["status"], unique=False)

    op.create_table(
        "undo_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column(
            "key",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "image",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_undo_log")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("undo_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_undo_log_block_number"), ["block_number"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("undo_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_undo_log_block_number"))

    op.drop_table("undo_log")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_providers_status"))
        batch_op.drop_index(batch_op.f("ix_providers_region"))
        batch_op.drop_index(batch_op.f("ix_providers_name"))

    op.drop_table("providers")
    op.drop_table("oracle_configs")
    with op.batch_alter_table("liveness", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_liveness_epoch"))
        batch_op.drop_index(batch_op.f("ix_liveness_block_number"))

    op.drop_table("liveness")
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.drop_index("ix_gpus_vendor_model")
        batch_op.drop_index(batch_op.f("ix_gpus_vendor"))
        batch_op.drop_index(batch_op.f("ix_gpus_throughput_gops"))
        batch_op.drop_index(batch_op.f("ix_gpus_provider"))
        batch_op.drop_index(batch_op.f("ix_gpus_online"))
        batch_op.drop_index(batch_op.f("ix_gpus_model"))
        batch_op.drop_index(batch_op.f("ix_gpus_memory_bytes"))
        batch_op.drop_index(batch_op.f("ix_gpus_gpu_index"))
        batch_op.drop_index(batch_op.f("ix_gpus_expires_at"))
        batch_op.drop_index(batch_op.f("ix_gpus_agent"))

    op.drop_table("gpus")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("uq_events_tx_hash_log_index")

    op.drop_table("events")
    op.drop_table("checkpoint")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_changes_block_number"))

    op.drop_table("changes")
    op.drop_table("blocks")
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attestations_provider"))
        batch_op.drop_index("ix_attestations_gpu_key_block")
        batch_op.drop_index(batch_op.f("ix_attestations_block_number"))
        batch_op.drop_index(batch_op.f("ix_attestations_agent"))

    op.drop_table("attestations")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_agent"))

    op.drop_table("agents")
