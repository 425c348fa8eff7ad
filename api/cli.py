"""``depin api``: serve the explorer and onboarding API."""

from __future__ import annotations

from typing import Any

import click

from api.settings import ApiSettings
from depin import logs
from depin.cli import DepinGroup


@click.group(cls=DepinGroup)
def api() -> None:
    """Explorer and onboarding HTTP API."""


@api.command()
@click.option("--host", default=None, help="Interface to bind (DEPIN_API_HOST).")
@click.option("--port", type=int, default=None, help="Port (DEPIN_API_PORT).")
@click.option("--workers", type=int, default=1, show_default=True, help="uvicorn processes.")
@click.option("--log-level", default="info", show_default=True)
@logs.option
def serve(
    host: str | None, port: int | None, workers: int, log_level: str, log_format: str | None
) -> None:
    """Serve the API (OpenAPI docs at /docs, Prometheus metrics at /metrics); refuses a
    database whose migrations are behind."""
    import uvicorn

    logs.setup("api", log_format, level=log_level.upper())

    from api.db import read_only_engine
    from api.prestart import check_database

    settings = ApiSettings()
    engine = read_only_engine(settings.url)
    check_database(engine)
    engine.dispose()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=log_level,
        log_config=logs.uvicorn_config("api", log_format, log_level),
    )


@api.command()
def prestart() -> None:
    """Exit 0 if the inventory database is at the latest migration, else say what to run."""
    from api.db import read_only_engine
    from api.prestart import check_database

    engine = read_only_engine(ApiSettings().url)
    check_database(engine)
    click.echo("the inventory database is at the latest migration")


@api.command()
@click.option("--output", "-o", type=click.File("w"), default="-", help="Where to write it.")
def openapi(output: Any) -> None:
    """Print the OpenAPI document."""
    import json

    from api.main import create_app

    click.echo(json.dumps(create_app(check_migrations=False).openapi(), indent=2), file=output)
