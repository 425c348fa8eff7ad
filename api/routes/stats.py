"""Inventory totals: counts and verified throughput by vendor, model and region."""

from __future__ import annotations

from fastapi import APIRouter

from api import inventory
from api.deps import SessionDep, SettingsDep
from api.errors import ServiceUnavailableError
from api.routes._problems import problems
from api.schemas.explorer import StatsResponse

router = APIRouter(tags=["stats"])


@router.get("/v1/stats", response_model=StatsResponse, responses=problems(ServiceUnavailableError))
def stats(session: SessionDep, settings: SettingsDep) -> StatsResponse:
    """GPU counts, verified throughput and online capacity, in all and by vendor, model, region."""
    return StatsResponse.model_validate(inventory.stats(session, settings.online_epochs))
