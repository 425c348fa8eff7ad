"""Search: one box for a GPU key, a provider or agent address, a transaction or a model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import inventory
from api.deps import InventoryReadable, SessionDep
from api.errors import ServiceUnavailableError
from api.routes._problems import problems
from api.schemas.explorer import SearchResponse

router = APIRouter(tags=["search"], dependencies=[InventoryReadable])


@router.get(
    "/v1/search",
    response_model=SearchResponse,
    responses=problems(ServiceUnavailableError),
)
def search(
    session: SessionDep,
    q: Annotated[
        str,
        Query(
            min_length=inventory.MIN_QUERY,
            max_length=inventory.MAX_QUERY,
            pattern=r"^[^\x00]*$",
            description="a GPU key or a prefix of one (`0x…`), a provider or agent address, "
            "a transaction hash, or a model name or a prefix of one (case-sensitive)",
            examples=["nvidia-h100"],
        ),
    ],
) -> SearchResponse:
    """What `q` names: GPUs, providers, agents, transactions and models, each kind at most
    10 times, each with links to its resources. Every lookup reads an index, a bounded
    number of rows."""
    items, block = inventory.search(session, q)
    return SearchResponse.model_validate({"query": q, "items": items, "as_of_block": block})
