"""One router per resource."""

from __future__ import annotations

from fastapi import APIRouter


def explorer_routers() -> list[APIRouter]:
    """The explorer routers (GPUs, providers, stats, health, events, the page's config) and
    the capability documents' (written only with documents whose hash the chain attested)."""
    from api.routes import capabilities, config, events, gpus, health, providers, stats

    return [
        gpus.router,
        providers.router,
        stats.router,
        health.router,
        events.router,
        capabilities.router,
        config.router,
    ]
