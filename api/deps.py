"""FastAPI dependencies (``Annotated`` aliases the routes declare)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.auth import NonceStore, Revocations, SiweVerifier, TokenSigner
from api.auth import Session as SignedSession
from api.chain import ChainContext
from api.errors import ServiceUnavailableError, UnauthorizedError
from api.indexer_health import IndexerWatch
from api.ratelimit import TokenBucket
from api.settings import ApiSettings
from depin.errors import DepinError


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_settings(request: Request) -> ApiSettings:
    """The app's settings (async: no worker-thread hop for a dictionary lookup)."""
    return _settings(request)


def get_chain(request: Request) -> ChainContext:
    chain: ChainContext | None = request.app.state.chain
    if chain is None:
        try:
            chain = ChainContext.from_settings(_settings(request))
        except DepinError as exc:
            raise ServiceUnavailableError(f"the chain is not usable: {exc.message}") from None
        except Exception as exc:
            raise ServiceUnavailableError(f"the chain is not reachable: {exc}") from None
        _settings(request).check_secret(chain.chain_id)
        chain.send_lock = request.app.state.shared.relay_lock()
        request.app.state.chain = chain
    return chain


def get_session(request: Request) -> Iterator[Session]:
    factory = request.app.state.session_factory
    try:
        session: Session = factory()
    except SQLAlchemyError as exc:
        raise ServiceUnavailableError(f"the inventory database is not reachable: {exc}") from None
    try:
        yield session
    finally:
        session.close()


def indexer_watch(request: Request) -> IndexerWatch:
    """The app's :class:`IndexerWatch` (made on first use, on the inventory's engine)."""
    state = request.app.state
    watch: IndexerWatch | None = getattr(state, "indexer_watch", None)
    if watch is None:
        watch = state.indexer_watch = IndexerWatch(state.engine)
    return watch


async def inventory_readable(request: Request) -> None:
    """Refuses an inventory read while the indexer is halted on a deep reorg (503
    ``indexer_halted``); async and answered from the watch's cached health, so the hot page
    routes take no thread hop and no query for it."""
    await indexer_watch(request).check()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def ip_limit(request: Request) -> None:
    """Takes a token from the caller's per-IP bucket (onboarding routes)."""
    bucket: TokenBucket = request.app.state.ip_bucket
    bucket.take(client_ip(request))


def get_verifier(request: Request) -> SiweVerifier:
    chain = get_chain(request)
    settings = _settings(request)
    nonces: NonceStore = request.app.state.nonces
    return SiweVerifier(
        chain.w3,
        chain.chain_id,
        settings.siwe_domain,
        nonces,
        origin=settings.public_origin,
        skew_s=settings.siwe_clock_skew_s,
    )


def get_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.token_signer
    return signer


def current_session(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <session token>")] = None,
) -> SignedSession:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise UnauthorizedError("send `Authorization: Bearer <token>` from /v1/auth/verify")
    session = get_signer(request).verify(authorization[7:].strip())
    revocations: Revocations = request.app.state.revocations
    return revocations.check(session)


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
ChainDep = Annotated[ChainContext, Depends(get_chain)]
SessionDep = Annotated[Session, Depends(get_session)]
VerifierDep = Annotated[SiweVerifier, Depends(get_verifier)]
SignerDep = Annotated[TokenSigner, Depends(get_signer)]
CurrentSessionDep = Annotated[SignedSession, Depends(current_session)]
IpLimited = Depends(ip_limit)
#: router-level dependency of every inventory read (GPUs, providers, stats, events)
InventoryReadable = Depends(inventory_readable)
