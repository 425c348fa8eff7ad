"""Errors of the indexer, each with a stable ``code``; all derive from :class:`DepinError`."""

from __future__ import annotations

from depin.errors import ConfigurationError, DepinError


class IndexerError(DepinError):
    """Base of the indexer's errors."""

    code = "indexer_error"


class RpcError(IndexerError):
    """The node answered a request with an error the indexer cannot work around."""

    code = "indexer_rpc_error"

    def __init__(self, method: str, message: str) -> None:
        self.method = method
        super().__init__(f"{method} failed: {message}")


class RpcUnavailableError(RpcError):
    """The node kept failing in ways that usually heal, for longer than the retry budget.

    ``kind`` is the last failure's kind (:data:`depin.rpc.KINDS`).
    """

    code = "indexer_rpc_unavailable"
    retryable = True

    def __init__(self, method: str, message: str, kind: str = "unknown") -> None:
        self.kind = kind
        super().__init__(method, message)


class RangeTooLargeError(RpcError):
    """The node refused a block range as too large (too many results, response size, timeout).

    The reader splits the range and tries again; a single block it refuses is read from the
    block's receipts.
    """

    code = "indexer_range_too_large"


class ChainMismatchError(IndexerError, ConfigurationError):
    """The database was indexed from another chain or another set of contracts."""

    code = "indexer_chain_mismatch"


class DatabaseNotMigratedError(IndexerError, ConfigurationError):
    """The database schema is not at the latest migration."""

    code = "indexer_not_migrated"

    def __init__(self, current: str | None, head: str | None) -> None:
        self.current = current
        self.head = head
        super().__init__(
            f"the inventory database is at migration {current or 'none'}, not {head}; "
            "run `depin indexer migrate`"
        )


class DeepReorgError(IndexerError):
    """The chain replaced blocks older than the kept window of unfinalized blocks.

    Raised before anything is written: the database stays as it was. Recover with
    ``depin indexer rebuild`` once the node's chain is the one wanted.
    """

    code = "indexer_deep_reorg"

    def __init__(
        self,
        block: int,
        stored_hash: str,
        chain_hash: str | None,
        indexed_block: int | None = None,
    ) -> None:
        self.block = block
        self.stored_hash = stored_hash
        self.chain_hash = chain_hash
        #: the indexed blocks the reorg replaced, at least: ``from_block``..``to_block``
        self.from_block = block
        self.to_block = max(block, indexed_block if indexed_block is not None else block)
        self.depth = self.to_block - self.from_block + 1
        super().__init__(
            f"reorg deeper than the finality window: at least {self.depth} blocks "
            f"({self.from_block}-{self.to_block}) replaced; block {block} was {stored_hash} "
            f"when indexed and is now {chain_hash or 'missing'}, and no kept block is still "
            "canonical. The database is unchanged; run `depin indexer rebuild` to re-index "
            "the new chain"
        )


class BackupError(IndexerError):
    code = "indexer_backup"
