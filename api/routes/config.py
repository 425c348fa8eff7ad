"""What the web page needs to know of this deployment: the chain and its block explorer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from api.deps import SessionDep, SettingsDep
from api.errors import ServiceUnavailableError
from api.routes._problems import problems
from api.schemas.config import BlockExplorer, ConfigResponse
from depin.settings import DEV_CHAIN_IDS
from indexer.models import Checkpoint

router = APIRouter(tags=["config"])


@router.get(
    "/v1/config", response_model=ConfigResponse, responses=problems(ServiceUnavailableError)
)
def config(request: Request, session: SessionDep, settings: SettingsDep) -> ConfigResponse:
    """The chain the inventory is indexed from and the block explorer the web page links its
    addresses and transactions to (none on a dev chain unless configured). Answers even while
    the indexer is halted or the database is down (then from the node, if already connected)."""
    chain_id: int | None = None
    try:
        chain_id = session.execute(select(Checkpoint.chain_id).limit(1)).scalar_one_or_none()
    except SQLAlchemyError:
        session.rollback()
    if chain_id is None and request.app.state.chain is not None:
        chain_id = int(request.app.state.chain.chain_id)
    url = settings.block_explorer(chain_id)
    explorer = (
        BlockExplorer(
            url=url, address=f"{url}/address/{{address}}", transaction=f"{url}/tx/{{hash}}"
        )
        if url is not None
        else None
    )
    return ConfigResponse(
        chain_id=chain_id,
        dev_chain=chain_id in DEV_CHAIN_IDS,
        block_explorer=explorer,
    )
