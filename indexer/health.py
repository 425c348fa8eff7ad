"""The indexer's health as its database records it: ``ok``, ``degraded`` or ``halted``.

:func:`read_health` needs only the database (the API calls it with the engine it reads the
inventory with); ``depin indexer status`` adds what the node says now (its head, and whether
the checkpoint's block is still canonical) so that the lag it prints is the true one.

- ``halted``: the indexer stopped on something no retry heals (a reorg deeper than the
  finality window, the node on another chain, a contract without code); ``fix`` says what to
  do.
- ``degraded``: no step has worked for ``stalled_after`` seconds (or ever), or the block the
  checkpoint names is no longer on the node's chain.
- ``ok``: otherwise.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from sqlalchemy import Connection, Engine, select

from indexer import models

State = Literal["ok", "degraded", "halted"]

#: what to run for each halt reason
FIXES: Final[dict[str, str]] = {
    "deep_reorg": "run `depin indexer rebuild` to re-index the node's chain",
    "wrong_chain": "point DEPIN_INDEXER_RPC_URL at the inventory's chain, or run "
    "`depin indexer rebuild` to index this one",
    "chain_mismatch": "point DEPIN_INDEXER_DATABASE_URL elsewhere, or run `depin indexer rebuild`",
    "contract_not_deployed": "deploy the contracts (`depin deploy`) or fix the recorded "
    "addresses, then run `depin indexer rebuild`",
}
DEFAULT_FIX: Final = "run `depin indexer rebuild`"


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


#: ``canonical_hash`` not asked of the node
UNCHECKED: Final = _Unchecked()


@dataclass(frozen=True)
class Halt:
    reason: str
    at: int
    detail: dict[str, Any]


@dataclass(frozen=True)
class IndexerHealth:
    """What ``depin indexer status`` prints and the API can serve.

    Attributes:
        state: ``ok``, ``degraded`` or ``halted``.
        reasons: one sentence per thing that is not right (empty when ``ok``).
        fix: what to run when ``halted``.
        lag: blocks between the head and the last block indexed on the node's chain (None if
            unknown); ``lag_at_least``: the true lag may be larger (the indexed tip is not
            canonical, so the common ancestor is lower).
        head_block: the node's head if it was asked, else the last head the indexer saw.
        canonical: whether the checkpoint's block hash is the node's (None: not checked).
    """

    state: State
    reasons: tuple[str, ...]
    fix: str | None
    chain_id: int | None
    indexed_block: int | None
    head_block: int | None
    head_is_live: bool
    lag: int | None
    lag_at_least: bool
    progress_at: int | None
    progress_block: int | None
    canonical: bool | None
    halt: Halt | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_health(
    source: Engine | Connection,
    *,
    stalled_after: float = 300.0,
    now: float | None = None,
    head_block: int | None = None,
    canonical_hash: str | _Unchecked | None = UNCHECKED,
) -> IndexerHealth:
    """The indexer's health from its database.

    Args:
        source: an engine or connection on the inventory (at the latest migration).
        stalled_after: seconds without a working step after which the indexer is degraded.
        now: the time (unix seconds), for tests.
        head_block: the node's head now, if the caller asked it; else the last one recorded.
        canonical_hash: the node's hash of the checkpoint's block now (None: the node lacks
            the block), if the caller asked it.
    """
    if isinstance(source, Engine):
        with source.connect() as conn:
            return read_health(
                conn,
                stalled_after=stalled_after,
                now=now,
                head_block=head_block,
                canonical_hash=canonical_hash,
            )
    now = time.time() if now is None else now
    checkpoint = source.execute(select(models.CHECKPOINT)).mappings().first()
    status = source.execute(select(models.STATUS)).mappings().first()

    halt = None
    if status is not None and status["halt_reason"]:
        halt = Halt(
            str(status["halt_reason"]), int(status["halted_at"] or 0), status["halt_detail"] or {}
        )
    progress_at = status["progress_at"] if status is not None else None
    progress_block = status["progress_block"] if status is not None else None
    indexed = int(checkpoint["indexed_block"]) if checkpoint is not None else None
    indexed_hash = checkpoint["indexed_hash"] if checkpoint is not None else None
    head_is_live = head_block is not None
    if head_block is None and checkpoint is not None:
        head_block = int(checkpoint["head_block"])

    canonical: bool | None = None
    if not isinstance(canonical_hash, _Unchecked) and indexed_hash is not None:
        canonical = canonical_hash is not None and canonical_hash.lower() == indexed_hash.lower()

    lag: int | None = None
    lag_at_least = False
    if indexed is not None and head_block is not None:
        lag = max(0, head_block - indexed)
        if halt is not None and halt.reason == "deep_reorg" and "from_block" in halt.detail:
            # blocks from ``from_block`` up were replaced: the indexed data ends below them
            lag = max(1, head_block - (int(halt.detail["from_block"]) - 1))
            lag_at_least = True
        elif canonical is False:
            lag = max(1, head_block - indexed + 1)
            lag_at_least = True

    reasons: list[str] = []
    state: State = "ok"
    fix = None
    if halt is not None:
        state = "halted"
        message = halt.detail.get("message") or halt.reason
        reasons.append(f"halted ({halt.reason}): {message}")
        fix = FIXES.get(halt.reason, DEFAULT_FIX)
    if canonical is False:
        reasons.append(
            f"the indexed block {indexed} ({indexed_hash}) is no longer on the node's chain"
        )
    if checkpoint is None:
        reasons.append("nothing indexed yet: run `depin indexer run`")
    elif progress_at is None:
        reasons.append("no progress recorded yet")
    elif now - progress_at > stalled_after:
        reasons.append(
            f"no progress for {now - progress_at:.0f}s (since block {progress_block}); "
            f"the limit is {stalled_after:.0f}s"
        )
    if state == "ok" and reasons:
        state = "degraded"
    return IndexerHealth(
        state=state,
        reasons=tuple(reasons),
        fix=fix,
        chain_id=int(checkpoint["chain_id"]) if checkpoint is not None else None,
        indexed_block=indexed,
        head_block=head_block,
        head_is_live=head_is_live,
        lag=lag,
        lag_at_least=lag_at_least,
        progress_at=progress_at,
        progress_block=progress_block,
        canonical=canonical,
        halt=halt,
    )
