"""Providers: the registry's members with their profiles, agents, GPUs and uptime."""

from __future__ import annotations

from typing import Annotated, Literal

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query, Request

from api import inventory
from api.deps import InventoryReadable, SessionDep, SettingsDep
from api.errors import InvalidFilterError, NotFoundError, ServiceUnavailableError
from api.routes._problems import problems
from api.schemas.common import page_fields
from api.schemas.explorer import ProviderPage, ProviderResponse

router = APIRouter(prefix="/v1/providers", tags=["providers"], dependencies=[InventoryReadable])

ProviderSort = Literal[
    "address", "-address", "registered_block", "-registered_block", "name", "-name"
]


@router.get(
    "",
    response_model=ProviderPage,
    responses=problems(InvalidFilterError, ServiceUnavailableError),
)
def list_providers(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[Literal["active", "deregistered"] | None, Query()] = None,
    region: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    sort: Annotated[ProviderSort, Query()] = "-registered_block",
    limit: Annotated[int | None, Query(ge=1, le=200)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ProviderPage:
    """Providers, filtered by status and region, one keyset page at a time, with the total."""
    size = min(limit or settings.default_page_size, settings.max_page_size)
    page = inventory.list_providers(
        session,
        status=status,
        region=region,
        sort=sort,
        limit=size,
        cursor=cursor,
        counts=request.app.state.counts,
    )
    return ProviderPage.model_validate(page_fields(page))


@router.get(
    "/{address}",
    response_model=ProviderResponse,
    responses=problems(NotFoundError, ServiceUnavailableError),
)
def get_provider(
    address: Annotated[
        str,
        Path(
            pattern=r"^0x[0-9a-fA-F]{40}$",
            examples=["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
        ),
    ],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    uptime_epochs: Annotated[int, Query(ge=1, le=1000, description="epochs for uptime")] = 24,
) -> ProviderResponse:
    """A provider's profile, its agents with their expiry, its GPUs and its recent uptime."""
    item, block = inventory.get_provider(
        session,
        to_checksum_address(address),
        window=settings.online_epochs,
        uptime_epochs=uptime_epochs,
        gpu_limit=100,
        uptimes=request.app.state.uptimes,
    )
    if item is None:
        raise NotFoundError(f"no provider {address} (as of block {block})", as_of_block=block)
    return ProviderResponse.model_validate({"provider": item, "as_of_block": block})
