"""Writing the inventory: each block range, its current-state changes, its undo entries, its
blocks and the checkpoint in ONE transaction; rollback to a common ancestor in one transaction.

Replaying a range at or below the checkpoint writes nothing, and event rows are unique on
(tx hash, log index), so neither a crash nor a retry can duplicate an event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from indexer import handlers, models
from indexer._sql import TableSql
from indexer.errors import ChainMismatchError, IndexerError
from indexer.reader import Header
from indexer.state import STATE, EventRow, Working

_CHECKPOINT_ID = 1
#: the update of the one checkpoint row
_CHECKPOINT_ROW = update(models.CHECKPOINT).where(models.CHECKPOINT.c.id == _CHECKPOINT_ID)


@dataclass(frozen=True)
class CheckpointState:
    """A read-only copy of the checkpoint row."""

    chain_id: int
    contracts: dict[str, Any]
    start_block: int
    indexed_block: int
    indexed_hash: str | None
    head_block: int
    finalized_block: int
    updated_at: int
    indexed_time: int | None = None
    epoch_length: int | None = None


@dataclass
class Batch:
    """One block range to write: its decoded events (chain order) and the headers to keep."""

    from_block: int
    to_block: int
    to_hash: str
    events: list[EventRow]
    #: headers of the range's unfinalized blocks and of its last block
    headers: Sequence[Header]
    head_block: int
    finalized_block: int
    written: int = field(default=0)
    #: the timestamp of ``to_block``
    to_time: int | None = None


class Store:
    """The inventory database, written by one indexer at a time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._rendered: dict[str, TableSql] = {}

    def _sql(self, table: str) -> TableSql:
        rendered = self._rendered.get(table)
        if rendered is None:
            rendered = TableSql(models.Base.metadata.tables[table], self.dialect)
            self._rendered[table] = rendered
        return rendered

    # ------------------------------------------------------------------ checkpoint

    def checkpoint(self, connection: Connection | None = None) -> CheckpointState | None:
        if connection is None:
            with self.engine.connect() as conn:
                return self.checkpoint(conn)
        row = (
            connection.execute(
                select(models.CHECKPOINT).where(models.CHECKPOINT.c.id == _CHECKPOINT_ID)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return CheckpointState(**{k: v for k, v in row.items() if k != "id"})

    def initialize(
        self, chain_id: int, contracts: dict[str, Any], start_block: int
    ) -> CheckpointState:
        """Creates the checkpoint for an empty database, or checks the existing one matches."""
        with self.engine.begin() as conn:
            current = self.checkpoint(conn)
            if current is None:
                conn.execute(
                    insert(models.CHECKPOINT).values(
                        id=_CHECKPOINT_ID,
                        chain_id=chain_id,
                        contracts=contracts,
                        start_block=start_block,
                        indexed_block=start_block - 1,
                        indexed_hash=None,
                        head_block=0,
                        finalized_block=0,
                        updated_at=int(time.time()),
                    )
                )
                current = self.checkpoint(conn)
                assert current is not None
                return current
        if current.chain_id != chain_id:
            raise ChainMismatchError(
                f"the inventory was indexed from chain {current.chain_id}, the node is chain "
                f"{chain_id}; point DEPIN_INDEXER_DATABASE_URL elsewhere or run "
                "`depin indexer rebuild`"
            )
        if _addresses(current.contracts) != _addresses(contracts):
            raise ChainMismatchError(
                f"the inventory indexes {_addresses(current.contracts)}, the deployments now "
                f"name {_addresses(contracts)}; run `depin indexer rebuild`"
            )
        return current

    def record_epoch_length(self, epoch_length: int) -> CheckpointState:
        """Records the AttestationOracle's epoch length (it never changes)."""
        with self.engine.begin() as conn:
            conn.execute(_CHECKPOINT_ROW.values(epoch_length=epoch_length))
            current = self.checkpoint(conn)
        assert current is not None
        return current

    def blocks(self) -> dict[int, str]:
        """Kept block hashes by number."""
        with self.engine.connect() as conn:
            table = models.BLOCKS
            return {int(n): str(h) for n, h in conn.execute(select(table.c.number, table.c.hash))}

    # ------------------------------------------------------------------ writing

    def write(self, batch: Batch) -> int:
        """Writes ``batch`` and moves the checkpoint to its last block, atomically.

        Returns the number of events written (0 if the range was already indexed).
        """
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Safe without a synchronous commit: the checkpoint commits with the rows, so a
                # transaction lost in a server crash rolls both back and is indexed again.
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            checkpoint = self._lock_checkpoint(conn)
            if batch.to_block <= checkpoint.indexed_block:
                return 0
            if batch.from_block > checkpoint.indexed_block + 1:
                raise IndexerError(
                    f"range {batch.from_block}-{batch.to_block} leaves a gap after block "
                    f"{checkpoint.indexed_block}"
                )
            events = [e for e in batch.events if e["block_number"] > checkpoint.indexed_block]
            working = Working(undo_above=batch.finalized_block)

            def fetch(table: str, keys: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
                return self._sql(table).select_keys(conn, keys)

            def where(table: str, column: str, values: list[Any]) -> list[dict[str, Any]]:
                t = STATE[table].table
                found: list[dict[str, Any]] = []
                for start in range(0, len(values), 500):
                    query = select(t).where(t.c[column].in_(values[start : start + 500]))
                    found.extend(dict(r) for r in conn.execute(query).mappings())
                return found

            working.load(handlers.touched(events, batch.finalized_block), fetch, where)
            handlers.apply(working, events)

            self._sql("events").run_insert(conn, events, ignore=True)
            for table_name, rows in working.appends.items():
                self._sql(table_name).run_insert(conn, rows, ignore=True)
            self._sql("changes").run_insert(conn, working.changes, ignore=False)
            self._sql("undo_log").run_insert(conn, working.undo, ignore=False)
            for spec, rows in working.dirty_rows():
                self._sql(spec.name).run_upsert(conn, rows)
            self._keep_blocks(conn, batch)
            conn.execute(
                _CHECKPOINT_ROW.values(
                    indexed_block=batch.to_block,
                    indexed_hash=batch.to_hash,
                    head_block=max(batch.head_block, batch.to_block),
                    finalized_block=batch.finalized_block,
                    updated_at=int(time.time()),
                    indexed_time=batch.to_time,
                )
            )
            self._progress(conn, batch.to_block)
            batch.written = len(events)
            return len(events)

    def record_head(self, head_block: int, finalized_block: int) -> None:
        """Records the chain head seen while there was nothing new to index (progress too: the
        indexer is at the head)."""
        with self.engine.begin() as conn:
            conn.execute(
                _CHECKPOINT_ROW.values(
                    head_block=head_block,
                    finalized_block=finalized_block,
                    updated_at=int(time.time()),
                )
            )
            checkpoint = self.checkpoint(conn)
            if checkpoint is not None:
                self._progress(conn, checkpoint.indexed_block)

    # ------------------------------------------------------------------ health

    def _upsert_status(self, conn: Connection, **values: Any) -> None:
        table = models.STATUS
        dialect_insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        statement = dialect_insert(table).values(id=_CHECKPOINT_ID, **values)
        statement = statement.on_conflict_do_update(index_elements=["id"], set_=values)
        conn.execute(statement)

    def _progress(self, conn: Connection, block: int) -> None:
        self._upsert_status(
            conn,
            progress_at=int(time.time()),
            progress_block=block,
            halted_at=None,
            halt_reason=None,
            halt_detail=None,
        )

    def record_halt(self, reason: str, detail: dict[str, Any]) -> None:
        """Records that the indexer stopped on something no retry heals (until a step works
        again, or a rebuild)."""
        with self.engine.begin() as conn:
            self._upsert_status(
                conn, halted_at=int(time.time()), halt_reason=reason, halt_detail=detail
            )

    def _lock_checkpoint(self, conn: Connection) -> CheckpointState:
        table = models.CHECKPOINT
        query = select(table).where(table.c.id == _CHECKPOINT_ID)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise IndexerError("the inventory has no checkpoint; initialize it first")
        return CheckpointState(**{k: v for k, v in row.items() if k != "id"})

    def _keep_blocks(self, conn: Connection, batch: Batch) -> None:
        table = models.BLOCKS
        if batch.headers:
            rows = [
                {"number": h.number, "hash": h.hash, "parent_hash": h.parent_hash}
                for h in batch.headers
            ]
            dialect_insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
            statement = dialect_insert(table)
            statement = statement.on_conflict_do_update(
                index_elements=["number"],
                set_={
                    "hash": statement.excluded.hash,
                    "parent_hash": statement.excluded.parent_hash,
                },
            )
            conn.execute(statement, rows)
        # keep the newest finalized block as the anchor, and everything above it
        anchor = conn.execute(
            select(table.c.number)
            .where(table.c.number <= batch.finalized_block)
            .order_by(table.c.number.desc())
            .limit(1)
        ).scalar()
        if anchor is not None:
            conn.execute(delete(table).where(table.c.number < anchor))
            undo = models.UNDO
            conn.execute(delete(undo).where(undo.c.block_number <= anchor))

    # ------------------------------------------------------------------ reorgs and resets

    def rollback(self, ancestor: int) -> int:
        """Undoes every block above ``ancestor`` in one transaction; returns rows restored."""
        with self.engine.begin() as conn:
            checkpoint = self._lock_checkpoint(conn)
            blocks = models.BLOCKS
            ancestor_hash = conn.execute(
                select(blocks.c.hash).where(blocks.c.number == ancestor)
            ).scalar()
            if ancestor_hash is None:
                raise IndexerError(f"block {ancestor} is not kept; cannot roll back to it")
            undo = models.UNDO
            entries = conn.execute(
                select(undo.c.table_name, undo.c.key, undo.c.image)
                .where(undo.c.block_number > ancestor)
                .order_by(undo.c.block_number, undo.c.id)
            ).all()
            earliest: dict[tuple[str, tuple[Any, ...]], dict[str, Any] | None] = {}
            for table_name, key, image in entries:
                earliest.setdefault((table_name, tuple(key)), image)
            for (table_name, key), image in earliest.items():
                spec = STATE[table_name]
                where = [spec.table.c[c] == v for c, v in zip(spec.key, key, strict=True)]
                conn.execute(delete(spec.table).where(*where))
                if image is not None:
                    conn.execute(insert(spec.table).values(**image))
            conn.execute(delete(undo).where(undo.c.block_number > ancestor))
            for table in models.APPEND_TABLES:
                conn.execute(delete(table).where(table.c.block_number > ancestor))
            conn.execute(delete(blocks).where(blocks.c.number > ancestor))
            conn.execute(
                insert(models.CHANGES).values(
                    block_number=ancestor,
                    log_index=None,
                    kind="reorg",
                    subject=None,
                    data={"from_block": checkpoint.indexed_block, "to_block": ancestor},
                )
            )
            conn.execute(
                _CHECKPOINT_ROW.values(
                    indexed_block=ancestor,
                    indexed_hash=ancestor_hash,
                    indexed_time=None,  # the next block written sets it
                    updated_at=int(time.time()),
                )
            )
            return len(earliest)

    def reset(self) -> None:
        """Empties every inventory table, the checkpoint included (for a rebuild)."""
        with self.engine.begin() as conn:
            for table in reversed(models.Base.metadata.sorted_tables):
                conn.execute(delete(table))


def _addresses(contracts: dict[str, Any]) -> dict[str, str]:
    return {name: str(info["address"]).lower() for name, info in contracts.items()}
