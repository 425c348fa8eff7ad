"""Liveness of the API and its backing services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from api import inventory
from api.deps import SessionDep
from api.errors import ServiceUnavailableError
from api.routes._problems import problems
from api.schemas.health import HealthLiveness, HealthResponse

router = APIRouter(tags=["health"])

LAG_WARNING = 100


@router.get(
    "/v1/health", response_model=HealthResponse, responses=problems(ServiceUnavailableError)
)
def health(request: Request, session: SessionDep) -> HealthResponse:
    """Chain head, indexed block, the lag between them, whether the database answers, and
    whether liveness is being recorded (the last record at most 2 epochs behind the chain)."""
    from api.deps import get_chain

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
        reasons.append("the chain's node does not answer")
    database = True
    known: inventory.Snapshot | None = None
    try:
        session.execute(text("SELECT 1"))
        known = inventory.snapshot(session)
    except Exception:
        database = False
        reasons.append("the inventory database does not answer")
    indexed = known.block if known is not None else None
    lag = head - indexed if head is not None and indexed is not None else None
    liveness = _liveness(known, head_time)
    behind = liveness["epochs_behind"]
    if behind is not None and behind > inventory.MAX_LIVENESS_LAG:
        reasons.append(
            f"liveness lags the chain by {behind} epochs (last recorded epoch "
            f"{liveness['last_epoch']}, the chain is in epoch {liveness['current_epoch']})"
        )
    if reasons:
        status = "degraded"
    elif lag is not None and lag > LAG_WARNING:
        status = "lagging"
        reasons.append(f"the indexer is {lag} blocks behind the chain")
    else:
        status = "ok"
    return HealthResponse(
        status=status,
        reasons=reasons,
        chain_id=chain_id,
        chain_head=head,
        indexed_block=indexed,
        lag=lag,
        database=database,
        liveness=HealthLiveness.model_validate(liveness),
        as_of_block=indexed or 0,
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
