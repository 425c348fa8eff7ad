"""The FastAPI application: routers, problem+json error handlers and shared state."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.alerts import AlertRunner, AlertStore, AlertWorker, policy_of
from api.auth import NonceStore, Revocations, TokenSigner
from api.capabilities import attach_state
from api.chain import ChainContext
from api.console.relayed import RelayedMessages
from api.credentials import TokenStore
from api.db import read_only_engine, session_factory
from api.errors import (
    ApiError,
    InternalError,
    InvalidFilterError,
    MethodNotAllowedError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationProblem,
)
from api.inventory import LruCache, Uptimes, snapshot
from api.inventory.columns import GpuIndex
from api.pagecache import PageCache, Snapshot
from api.ratelimit import TokenBucket
from api.relay import RelayLedger, follow
from api.settings import ApiSettings
from api.shared import open_shared_state
from depin import metrics, problems

log = logging.getLogger("depin.api")

DESCRIPTION = """
Explorer and onboarding API of the depin GPU registry.

* **Explorer** (`/v1/gpus`, `/v1/providers`, `/v1/stats`, `/v1/events`): read-only views of the
  indexer's inventory, each answer stating the block at which it is true (`as_of_block`).
* **Onboarding**: Sign-In with Ethereum (`/v1/auth`), the EIP-712 typed data a wallet signs
  (`/v1/typed-data/...`) and the gasless relay of what it signed (`/v1/relay`).

Every refusal is an RFC 9457 `application/problem+json` document with a stable `type`
(`urn:depin:problem:<code>`) and `code`.
"""


def problem_response(error: ApiError, request: Request) -> JSONResponse:
    if request.scope.get("path") == "/v1/relay":  # every refusal of a relay, by its code
        metrics.RELAY.labels(error.code).inc()
    return problems.problem_response(
        error.code,
        error.status,
        error.detail,
        title=error.title,
        instance=request.url.path,
        extra=error.extra,
        headers=error.headers,
    )


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for error in errors:
        out.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _jsonable_errors(exc.errors())
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        if errors and all(e["loc"][:1] in (["query"], ["header"]) for e in errors):
            return problem_response(InvalidFilterError(detail, errors=errors), request)
        return problem_response(ValidationProblem(detail, errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error: ApiError
        if exc.status_code == 404:
            error = NotFoundError(f"no route {request.url.path}")
        elif exc.status_code == 405:
            error = MethodNotAllowedError(f"{request.method} is not allowed on {request.url.path}")
        elif 400 <= exc.status_code < 500:
            # e.g. a body that is not JSON: a validation problem like any other bad input.
            error = ValidationProblem(str(exc.detail))
        else:
            error = InternalError(str(exc.detail))
        return problem_response(error, request)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.warning("inventory database error on %s: %s", request.url.path, exc)
        error = ServiceUnavailableError(
            "the inventory database cannot answer (is it reachable and migrated? "
            "run `depin indexer migrate`)"
        )
        return problem_response(error, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(InternalError("an unexpected error occurred"), request)


def _snapshot_reader(factory: Any) -> Any:
    def read() -> Snapshot:
        with factory() as session:
            return snapshot(session, documents=True)  # pages move when a document arrives

    return read


def _follow_once(app: FastAPI, settings: ApiSettings) -> None:
    """One pass of the follower; connects the chain first if no request has yet."""
    chain: ChainContext | None = app.state.chain
    if chain is None:
        chain = ChainContext.from_settings(settings)
        settings.check_secret(chain.chain_id)
        chain.send_lock = app.state.shared.relay_lock()
        if app.state.chain is None:  # (a request may have connected it meanwhile)
            app.state.chain = chain
        chain = app.state.chain
    cap = settings.relay_max_fee_gwei
    follow(
        chain,
        app.state.relay_ledger,
        resend_after_s=settings.relay_resend_after_s,
        max_fee=int(cap * 10**9) if cap is not None else None,
    )


async def _follow_relayed(app: FastAPI, settings: ApiSettings) -> None:
    """Watches the relayer's transactions from start-up until shutdown: a transaction left in
    the ledger by a process that died is broadcast again, replaced or settled with no request
    arriving."""
    failing = False
    while True:
        try:
            await anyio.to_thread.run_sync(functools.partial(_follow_once, app, settings))
            failing = False
        except Exception as exc:  # the next pass tries again
            log.log(
                logging.DEBUG if failing else logging.WARNING,
                "following relayed transactions failed: %s",
                exc,
            )
            failing = True
        await asyncio.sleep(settings.relay_follow_s)


def _alert_runner(app: FastAPI, settings: ApiSettings) -> AlertRunner | None:
    """The webhook alert worker, started in this process unless switched off."""
    if not settings.alerts_enabled:
        return None
    worker = AlertWorker(app.state.shared, app.state.session_factory, policy_of(settings))
    runner = AlertRunner(worker, settings.alerts_poll_s)
    runner.start()
    return runner


def create_app(
    settings: ApiSettings | None = None,
    *,
    chain: ChainContext | None = None,
    engine: Engine | None = None,
    check_migrations: bool = True,
) -> FastAPI:
    """Builds the application.

    Args:
        settings: the service's settings (from the environment by default).
        chain: a ready chain context (else connected lazily on first use).
        engine: the inventory database engine (else a read-only engine on ``settings.url``).
        check_migrations: refuse to start when the database's migrations are behind.
    """
    settings = settings or ApiSettings()
    engine = engine or read_only_engine(settings.url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if check_migrations:
            from api.prestart import check_database

            check_database(engine)
        if app.state.chain is not None:
            settings.check_secret(app.state.chain.chain_id)
        app.state.gpu_index.start()  # the SQL path answers until it is built
        # What import and start-up made lives as long as the app: out of the collector's way
        # until it stops, a full collection no longer walks it (about 190,000 objects,
        # 100-190 ms a collection, paid by whichever request triggered it).
        gc.freeze()
        follower = asyncio.get_running_loop().create_task(_follow_relayed(app, settings))
        alerts = _alert_runner(app, settings)
        yield
        gc.unfreeze()  # collectable again: an app stopped in a process that goes on
        if alerts is not None:
            await alerts.stop()
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        engine.dispose()
        app.state.relay_ledger.close()
        app.state.shared.close()

    app = FastAPI(
        title="depin API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api.docs serves Swagger UI from the installed package, not a CDN
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.chain = chain
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.counts = LruCache()
    app.state.uptimes = Uptimes()
    app.state.gpu_pages = PageCache(_snapshot_reader(app.state.session_factory))
    app.state.gpu_index = GpuIndex(app.state.session_factory, enabled=settings.gpu_index)
    shared = open_shared_state(settings.url, settings.shared_state_path)
    app.state.shared = shared
    attach_state(engine, shared)  # the inventory's reads see the capability documents
    if chain is not None:
        chain.send_lock = shared.relay_lock()
    app.state.nonces = NonceStore(shared, settings.siwe_nonce_ttl)
    app.state.relay_ledger = RelayLedger(shared)
    app.state.revocations = Revocations(shared)
    app.state.tokens = TokenStore(shared)
    app.state.relayed = RelayedMessages(shared, app.state.relay_ledger)
    app.state.alerts = AlertStore(shared)
    app.state.token_signer = TokenSigner(
        settings.session_secret.get_secret_value().encode(), settings.session_ttl
    )
    app.state.ip_bucket = TokenBucket(
        shared, settings.ip_rate, settings.ip_burst, what="IP address"
    )
    app.state.address_bucket = TokenBucket(
        shared, settings.address_rate, settings.address_burst, what="provider address"
    )
    install_error_handlers(app)
    metrics.install(app)

    from api.routes import auth, console, onboarding

    app.include_router(auth.router)
    app.include_router(onboarding.router)
    app.include_router(console.router)
    _include_explorer(app)
    from api.docs import install_docs
    from api.web import mount_web

    mount_web(app)
    install_docs(app)
    return app


def _include_explorer(app: FastAPI) -> None:
    from api.routes import explorer_routers

    for router in explorer_routers():
        app.include_router(router)
    from api.routes import search

    app.include_router(search.router)
