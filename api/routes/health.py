"""Liveness of the API and its backing services."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.orm import Session
from web3.exceptions import BlockNotFound

from api import inventory
from api.chain import ChainContext
from api.deps import SessionDep
from api.errors import ServiceUnavailableError
from api.indexer_health import STALLED_AFTER
from api.routes._problems import problems
from api.schemas.health import HealthGpuIndex, HealthIndexer, HealthLiveness, HealthResponse
from indexer.health import UNCHECKED, IndexerHealth, read_health

router = APIRouter(tags=["health"])

LAG_WARNING = 100
#: seconds an answer is reused while the head and the snapshot stay (``state.health_ttl``
#: overrides it)
CACHE_S = 1.0


@router.get(
    "/v1/health", response_model=HealthResponse, responses=problems(ServiceUnavailableError)
)
def health(request: Request, session: SessionDep) -> HealthResponse:
    """Chain head, indexed block, the lag between them, whether the database answers, the
    indexer's own record (progress, halts, whether its last block is still the chain's), and
    whether liveness is being recorded (the last record at most 2 epochs behind the chain).
    While neither the head nor the indexer's snapshot moves, an answer is reused for a second."""
    from api.deps import get_chain

    chain: ChainContext | None = None
    chain_id: int | None = None
    head: int | None = None
    head_time: int | None = None
    reasons: list[str] = []
    try:
        chain = get_chain(request)
        chain_id = chain.chain_id
        block = chain.w3.eth.get_block("latest")
        head, head_time = int(block["number"]), int(block["timestamp"])
    except Exception:  # an unreachable node is reported as an unknown head, not an error
        chain = None
        reasons.append("the chain's node does not answer")
    database = True
    known: inventory.Snapshot | None = None
    try:
        session.execute(text("SELECT 1"))
        known = inventory.snapshot(session)
    except Exception:
        database = False
        reasons.append("the inventory database does not answer")

    state = request.app.state
    index = state.gpu_index
    key = (chain_id, head, known, index.ready)
    ttl: float = getattr(state, "health_ttl", CACHE_S)
    cached: tuple[float, object, HealthResponse] | None = getattr(state, "health_cached", None)
    if cached is not None and cached[1] == key and time.monotonic() - cached[0] < ttl:
        return cached[2]
    indexer: IndexerHealth | None = None
    if known is not None:
        indexer = _indexer_health(session, chain, head, known.block)
    indexed = known.block if known is not None else None
    lag = head - indexed if head is not None and indexed is not None else None
    if indexer is not None and indexer.lag_at_least and indexer.lag is not None:
        lag = indexer.lag
    if indexer is not None:
        reasons.extend(f"indexer: {reason}" for reason in indexer.reasons)
    liveness = _liveness(known, head_time)
    behind = liveness["epochs_behind"]
    if behind is not None and behind > inventory.MAX_LIVENESS_LAG:
        reasons.append(
            f"liveness lags the chain by {behind} epochs (last recorded epoch "
            f"{liveness['last_epoch']}, the chain is in epoch {liveness['current_epoch']})"
        )
    if indexer is not None and indexer.state == "halted":
        status = "halted"
    elif reasons:
        status = "degraded"
    elif lag is not None and lag > LAG_WARNING:
        status = "lagging"
        reasons.append(f"the indexer is {lag} blocks behind the chain")
    else:
        status = "ok"
    answer = HealthResponse(
        status=status,
        reasons=reasons,
        chain_id=chain_id,
        chain_head=head,
        indexed_block=indexed,
        lag=lag,
        database=database,
        liveness=HealthLiveness.model_validate(liveness),
        as_of_block=indexed or 0,
        indexer=_indexer_block(indexer) if indexer is not None else None,
        gpu_index=HealthGpuIndex(
            enabled=index.enabled,
            ready=index.ready,
            gpus=index.size,
            built_in_s=round(index.built_in, 3) if index.built_in is not None else None,
        ),
    )
    state.health_cached = (time.monotonic(), key, answer)
    return answer


def _indexer_health(
    session: Session, chain: ChainContext | None, head: int | None, indexed: int
) -> IndexerHealth | None:
    """The indexer's record, with the node's head and its hash of the indexed block when the
    node answers (so a checkpoint the chain replaced shows now, not at the next step)."""
    canonical: Any = UNCHECKED  # a hash, None (no such block) or UNCHECKED
    if chain is not None and head is not None and indexed > 0:
        try:
            block = chain.w3.eth.get_block(indexed)
            canonical = "0x" + bytes(block["hash"]).hex()
        except BlockNotFound:
            canonical = None  # the node has no block there any more
        except Exception:
            canonical = UNCHECKED
    try:
        return read_health(
            session.connection(),
            stalled_after=STALLED_AFTER,
            head_block=head,
            canonical_hash=canonical,
        )
    except Exception:  # a database before the indexer's status table: nothing to add
        session.rollback()
        return None


def _indexer_block(health: IndexerHealth) -> HealthIndexer:
    return HealthIndexer(
        state=health.state,
        reasons=list(health.reasons),
        fix=health.fix,
        halt_reason=health.halt.reason if health.halt is not None else None,
        progress_at=int(health.progress_at) if health.progress_at is not None else None,
        canonical=health.canonical,
        lag_at_least=health.lag_at_least,
    )


def _liveness(known: inventory.Snapshot | None, head_time: int | None) -> dict[str, Any]:
    """The last liveness epoch against the chain's: the head's clock when the node answers,
    else the indexed block's. No record yet (no GPU has been live) is not a lag."""
    last = known.epoch if known is not None else None
    current = known.current_epoch if known is not None else None
    if known is not None and known.epoch_length and head_time is not None:
        current = head_time // known.epoch_length
    behind = current - last if current is not None and last is not None else None
    return {
        "last_epoch": last,
        "current_epoch": current,
        "epochs_behind": behind,
        "fresh": behind is not None and behind <= inventory.MAX_LIVENESS_LAG,
    }
