"""Inventory totals: counts and verified throughput by vendor, model and region."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import inventory
from api.deps import InventoryReadable, SessionDep, SettingsDep
from api.errors import InvalidFilterError, ServiceUnavailableError
from api.routes._problems import problems
from api.schemas.explorer import CapacityHistory, StatsResponse

router = APIRouter(tags=["stats"], dependencies=[InventoryReadable])


@router.get("/v1/stats", response_model=StatsResponse, responses=problems(ServiceUnavailableError))
def stats(session: SessionDep, settings: SettingsDep) -> StatsResponse:
    """GPU counts, verified throughput and online capacity, in all and by vendor, model, region."""
    return StatsResponse.model_validate(inventory.stats(session, settings.online_epochs))


@router.get(
    "/v1/stats/history",
    response_model=CapacityHistory,
    responses=problems(InvalidFilterError, ServiceUnavailableError),
)
def capacity_history(
    session: SessionDep,
    epochs: Annotated[
        int, Query(ge=1, le=10_000, description="how many of the latest epochs")
    ] = 168,
) -> CapacityHistory:
    """Online capacity over time: per liveness epoch, the GPUs seen live and their verified
    int8 throughput, as the oracles recorded it on-chain."""
    return CapacityHistory.model_validate(inventory.capacity_history(session, epochs))
