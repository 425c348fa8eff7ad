"""The SQL inventory: SQLAlchemy 2 typed models shared by the indexer (writer) and the API (reader).

Three kinds of tables:

- **Append-only, one row per fact, keyed by where it happened on chain**: :class:`Event` (every
  decoded contract event), :class:`Attestation` (attestation history), :class:`LivenessEpoch`
  and :class:`Change` (the inventory changes feed). A reorg deletes the rows above the common
  ancestor.
- **Current state, derived from the events**: :class:`Provider`, :class:`Agent`, :class:`Gpu`,
  :class:`OracleConfig`.
  Replaying every event into an empty database gives the same rows; a reorg restores the
  pre-images kept in :class:`UndoEntry`.
- **Bookkeeping**: :class:`Checkpoint` (indexed block and chain head), :class:`Block` (recent
  unfinalized blocks with their parent hashes) and :class:`IndexerStatus` (last progress, halt).

Conventions: addresses are EIP-55 checksummed strings, hashes and byte strings ``0x``-prefixed
lower-case hex, times unix seconds (``int``), chain positions ``block_number`` + ``log_index``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: JSON on SQLite, JSONB on PostgreSQL.
JsonType = JSON().with_variant(JSONB(), "postgresql")

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention (stable constraint names for migrations)."""

    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {dict[str, Any]: JsonType, list[Any]: JsonType}


# --------------------------------------------------------------------------- bookkeeping


class Checkpoint(Base):
    """Where indexing stands (a single row, ``id = 1``).

    ``indexed_block`` is the last block whose events are all in the database (written in the
    same transaction as those events); ``head_block`` the chain head seen at that time.
    """

    __tablename__ = "checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    #: ``{"ProviderRegistry": {"address": ..., "block": ...}, ...}`` being indexed.
    contracts: Mapped[dict[str, Any]]
    start_block: Mapped[int] = mapped_column(BigInteger)
    indexed_block: Mapped[int] = mapped_column(BigInteger)
    indexed_hash: Mapped[str | None] = mapped_column(String(66))
    head_block: Mapped[int] = mapped_column(BigInteger)
    finalized_block: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    #: the timestamp of ``indexed_block`` (the chain's clock as far as the inventory knows it;
    #: None before the first block and right after a rollback, until the next block)
    indexed_time: Mapped[int | None] = mapped_column(BigInteger)
    #: the AttestationOracle's ``EPOCH_LENGTH`` (immutable, read once; None if not indexed)
    epoch_length: Mapped[int | None] = mapped_column(BigInteger)


class Block(Base):
    """A recent block (unfinalized, plus the newest finalized one as the anchor) and its parent,
    kept to detect reorgs by hash and find the common ancestor."""

    __tablename__ = "blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))
    parent_hash: Mapped[str] = mapped_column(String(66))


class IndexerStatus(Base):
    """The indexer's own account of its health (a single row, ``id = 1``), so that a reader
    (``depin indexer status``, the API) never has to guess from a checkpoint that stopped moving.

    ``progress_at`` is the last time a step worked (it indexed blocks, or found nothing new at
    the head), ``progress_block`` the indexed block then. ``halt_reason`` is set when the
    indexer stopped on something no retry heals (``deep_reorg``, ``wrong_chain``,
    ``contract_not_deployed``, ``chain_mismatch``), with ``halt_detail`` (the message, and for a
    deep reorg its ``depth``, ``from_block`` and ``to_block``); the next step that works clears
    it, and so does ``depin indexer rebuild``.
    """

    __tablename__ = "indexer_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    progress_at: Mapped[int | None] = mapped_column(BigInteger)
    progress_block: Mapped[int | None] = mapped_column(BigInteger)
    halted_at: Mapped[int | None] = mapped_column(BigInteger)
    halt_reason: Mapped[str | None] = mapped_column(String(32))
    halt_detail: Mapped[dict[str, Any] | None]


class UndoEntry(Base):
    """Pre-image of a current-state row before its first change in an unfinalized block.

    Rolling back to block ``A`` restores, for each row, the image of its earliest entry above
    ``A`` (``image`` NULL: the row did not exist) and deletes the entries.
    """

    __tablename__ = "undo_log"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    table_name: Mapped[str] = mapped_column(String(32))
    #: primary key values, in column order
    key: Mapped[list[Any]]
    image: Mapped[dict[str, Any] | None]


# --------------------------------------------------------------------------- append-only


class Event(Base):
    """Every decoded event of the indexed contracts, unique on (``tx_hash``, ``log_index``)."""

    __tablename__ = "events"
    __table_args__ = (Index("uq_events_tx_hash_log_index", "tx_hash", "log_index", unique=True),)

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tx_hash: Mapped[str] = mapped_column(String(66))
    tx_index: Mapped[int] = mapped_column(Integer)
    block_hash: Mapped[str] = mapped_column(String(66))
    #: block timestamp (unix seconds) when the node reports it with the log
    block_time: Mapped[int | None] = mapped_column(BigInteger)
    #: emitting contract's address and name (``ProviderRegistry``, ``AttestationOracle``)
    address: Mapped[str] = mapped_column(String(42))
    contract: Mapped[str] = mapped_column(String(64))
    #: event name, e.g. ``ProviderRegistered``
    name: Mapped[str] = mapped_column(String(64))
    #: decoded arguments by ABI name (addresses checksummed, bytes as 0x-hex, ints as numbers)
    args: Mapped[dict[str, Any]]


class Attestation(Base):
    """Attestation history: one row per ``GpuAttested`` event, with the oracles that vouched."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestations_gpu_key_block", "gpu_key", "block_number"),)

    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_time: Mapped[int | None] = mapped_column(BigInteger)
    gpu_key: Mapped[str] = mapped_column(String(66))
    provider: Mapped[str] = mapped_column(String(42), index=True)
    agent: Mapped[str] = mapped_column(String(42), index=True)
    gpu_index: Mapped[int] = mapped_column(BigInteger)
    #: ``nvidia``, ``amd``, ``intel`` (or the PCI vendor id as ``0x....``) and the raw id
    vendor: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[int] = mapped_column(Integer)
    #: spec-table model id, e.g. ``nvidia-h100-sxm5-80gb``
    model: Mapped[str] = mapped_column(String(64))
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    #: int8 throughput the oracles verified under their proof-of-compute challenge
    throughput_gops: Mapped[int] = mapped_column(BigInteger)
    #: the agent's own benchmark figures
    fp32_gflops: Mapped[int] = mapped_column(BigInteger)
    fp16_gflops: Mapped[int] = mapped_column(BigInteger)
    memory_bandwidth_gbps: Mapped[int] = mapped_column(BigInteger)
    challenge: Mapped[str] = mapped_column(String(66))
    measured_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    #: keccak256 of the host's capability document the attestation names (None: no document)
    capabilities: Mapped[str | None] = mapped_column(String(66))
    #: oracle config version the quorum signed under, and the signing oracles' addresses
    config_version: Mapped[int] = mapped_column(BigInteger)
    signers: Mapped[list[Any]]


class LivenessEpoch(Base):
    """One liveness record: which GPU indexes the oracles saw online in ``epoch``."""

    __tablename__ = "liveness"

    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_time: Mapped[int | None] = mapped_column(BigInteger)
    epoch: Mapped[int] = mapped_column(BigInteger, index=True)
    #: GPU indexes seen online, ascending, and how many
    gpu_indexes: Mapped[list[Any]]
    online_count: Mapped[int] = mapped_column(Integer)
    #: verified int8 GOPS online in the epoch: the seen GPUs unrevoked and unexpired at the
    #: block's time (None for records indexed before schema 0003; a rebuild fills them)
    online_gops: Mapped[int | None] = mapped_column(BigInteger)
    #: GPUs online, available (no compute process) and healthy, of ``online_count``
    available_count: Mapped[int | None] = mapped_column(Integer)
    healthy_count: Mapped[int | None] = mapped_column(Integer)
    #: the raw bitmaps as 0x-hex (bit i: byte i / 8, mask 0x80 >> i % 8): ``bitmap`` has the GPUs
    #: online; ``available`` and ``healthy`` (None for records indexed before schema 0004) the
    #: GPUs among them that were free and healthy
    bitmap: Mapped[str] = mapped_column(Text)
    available: Mapped[str | None] = mapped_column(Text)
    healthy: Mapped[str | None] = mapped_column(Text)
    config_version: Mapped[int] = mapped_column(BigInteger)
    signers: Mapped[list[Any]]


class Change(Base):
    """The inventory changes feed, for streaming to clients (server-sent events).

    ``id`` increases monotonically and is never reused, so a client resumes with
    ``WHERE id > last_seen``. ``kind`` is one of :data:`CHANGE_KINDS` (providers, GPUs and
    oracle configs; agent keys are bookkeeping, not inventory, and are not in the feed). After a
    reorg the rows above the common ancestor are deleted and a ``reorg`` row (``block_number`` =
    the ancestor) is appended: a client that saw a row from the dropped blocks should refetch.
    """

    __tablename__ = "changes"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    log_index: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    #: a provider address or a GPU key (``None`` for ``reorg``)
    subject: Mapped[str | None] = mapped_column(String(66))
    data: Mapped[dict[str, Any]]


CHANGE_KINDS = (
    "provider_registered",
    "provider_updated",
    "provider_deregistered",
    "gpu_attested",
    "gpu_revoked",
    "gpu_online",
    "gpu_offline",
    "gpu_unhealthy",
    "gpu_healthy",
    "oracle_config_set",
    "reorg",
)


# --------------------------------------------------------------------------- current state


class Provider(Base):
    """A provider's current record and profile (latest ``ProviderRegistered``/``Updated``)."""

    __tablename__ = "providers"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), index=True)
    region: Mapped[str] = mapped_column(String(128), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    metadata_uri: Mapped[str] = mapped_column(Text)
    metadata_hash: Mapped[str] = mapped_column(String(66))
    #: ``active`` or ``deregistered``
    status: Mapped[str] = mapped_column(String(16), index=True)
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_at: Mapped[int | None] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)
    deregistered_at: Mapped[int | None] = mapped_column(BigInteger)


class Agent(Base):
    """An agent key as authorized by a provider. Authorized now iff not ``revoked``,
    ``expires_at`` is in the future and the provider is ``active``."""

    __tablename__ = "agents"

    provider: Mapped[str] = mapped_column(String(42), primary_key=True)
    agent: Mapped[str] = mapped_column(String(42), primary_key=True, index=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean)
    authorized_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class OracleConfig(Base):
    """Each oracle config the admin set (``OracleConfigSet``); the highest version is current.

    A signer's bit ``i`` in a quorum bitmap is ``oracles[i]`` of the config it names.
    """

    __tablename__ = "oracle_configs"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    oracles: Mapped[list[Any]]
    threshold: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))


class Gpu(Base):
    """A GPU's latest attestation and liveness.

    Verified now iff not ``revoked`` and ``expires_at`` is in the future. ``online`` means the
    GPU's index was set in the latest liveness epoch recorded; ``last_seen_epoch`` is the last
    epoch that had it.
    """

    __tablename__ = "gpus"
    __table_args__ = (
        Index("ix_gpus_vendor_model", "vendor", "model"),
        # a vendor filter sorted by throughput or memory starts at the vendor's first row
        Index("ix_gpus_vendor_throughput", "vendor", "throughput_gops", "gpu_key"),
        Index("ix_gpus_vendor_memory", "vendor", "memory_bytes", "gpu_key"),
        # online (a range of last_seen_epoch) counted with or without availability and health
        Index("ix_gpus_liveness", "last_seen_epoch", "available", "healthy"),
        # every sort order walks an index in the page's order, ties broken by the key
        Index("ix_gpus_memory_key", "memory_bytes", "gpu_key"),
        Index("ix_gpus_throughput_key", "throughput_gops", "gpu_key"),
        Index("ix_gpus_measured_at_key", "measured_at", "gpu_key"),
    )

    gpu_key: Mapped[str] = mapped_column(String(66), primary_key=True)
    provider: Mapped[str] = mapped_column(String(42), index=True)
    agent: Mapped[str] = mapped_column(String(42), index=True)
    #: position in the liveness bitmaps, assigned at the GPU's first attestation
    gpu_index: Mapped[int] = mapped_column(BigInteger, index=True)
    vendor: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(64), index=True)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    #: int8 GOPS the oracles verified (proof of compute)
    throughput_gops: Mapped[int] = mapped_column(BigInteger)
    fp32_gflops: Mapped[int] = mapped_column(BigInteger)
    fp16_gflops: Mapped[int] = mapped_column(BigInteger)
    memory_bandwidth_gbps: Mapped[int] = mapped_column(BigInteger)
    measured_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    #: keccak256 of the host's capability document the latest attestation names (None: none)
    capabilities: Mapped[str | None] = mapped_column(String(66), index=True)
    revoked: Mapped[bool] = mapped_column(Boolean)
    #: True if the provider retired it, False if an oracle quorum revoked it, None if not revoked
    revoked_by_provider: Mapped[bool | None] = mapped_column(Boolean)
    last_seen_epoch: Mapped[int | None] = mapped_column(BigInteger)
    online: Mapped[bool] = mapped_column(Boolean, index=True)
    #: in the last epoch that had it online: no compute process held it / it reported no ECC,
    #: XID, retirement or throttling trouble (None while offline or before any liveness)
    available: Mapped[bool | None] = mapped_column(Boolean)
    healthy: Mapped[bool | None] = mapped_column(Boolean)
    config_version: Mapped[int] = mapped_column(BigInteger)
    signers: Mapped[list[Any]]
    attestation_tx: Mapped[str] = mapped_column(String(66))
    first_attested_block: Mapped[int] = mapped_column(BigInteger)
    attested_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


CHECKPOINT = _table(Checkpoint)
BLOCKS = _table(Block)
UNDO = _table(UndoEntry)
STATUS = _table(IndexerStatus)
EVENTS = _table(Event)
CHANGES = _table(Change)
#: current-state tables (rolled back through the undo log)
STATE_TABLES: tuple[Table, ...] = (
    _table(Provider),
    _table(Agent),
    _table(Gpu),
    _table(OracleConfig),
)
#: append-only tables (rolled back by deleting rows above the ancestor)
APPEND_TABLES: tuple[Table, ...] = (
    EVENTS,
    _table(Attestation),
    _table(LivenessEpoch),
    CHANGES,
)
