"""One router per resource."""

from __future__ import annotations

from fastapi import APIRouter


def explorer_routers() -> list[APIRouter]:
    """The read-only explorer routers (GPUs, providers, stats, health, events)."""
    from api.routes import events, gpus, health, providers, stats

    return [gpus.router, providers.router, stats.router, health.router, events.router]
