"""Liveness of the API and its backing services."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from api import inventory
from api.deps import SessionDep
from api.errors import ServiceUnavailableError
from api.routes._problems import problems
from api.schemas.health import HealthResponse

router = APIRouter(tags=["health"])

LAG_WARNING = 100


@router.get(
    "/v1/health", response_model=HealthResponse, responses=problems(ServiceUnavailableError)
)
def health(request: Request, session: SessionDep) -> HealthResponse:
    """Chain head, indexed block, the lag between them, and whether the database answers."""
    from api.deps import get_chain

    chain_id: int | None = None
    head: int | None = None
    try:
        chain = get_chain(request)
        chain_id = chain.chain_id
        head = int(chain.w3.eth.block_number)
    except Exception:  # an unreachable node is reported as an unknown head, not an error
        pass
    database = True
    indexed: int | None = None
    try:
        session.execute(text("SELECT 1"))
        indexed = inventory.indexed_block(session)
    except Exception:
        database = False
    lag = head - indexed if head is not None and indexed is not None else None
    if head is None or not database:
        status = "degraded"
    elif lag is not None and lag > LAG_WARNING:
        status = "lagging"
    else:
        status = "ok"
    return HealthResponse(
        status=status,
        chain_id=chain_id,
        chain_head=head,
        indexed_block=indexed,
        lag=lag,
        database=database,
        as_of_block=indexed or 0,
    )
