"""Sign-In with Ethereum: nonce, verify, and the current session."""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Query, Request, Response, status

from api.auth import SIWE_REFUSALS, utc_iso
from api.deps import ChainDep, CurrentSessionDep, IpLimited, SignerDep, VerifierDep
from api.errors import (
    RateLimitedError,
    ServiceUnavailableError,
    SessionRevokedError,
    UnauthorizedError,
)
from api.routes._problems import problems
from api.schemas.auth import MeResponse, NonceResponse, SessionResponse, VerifyRequest

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.get(
    "/nonce",
    response_model=NonceResponse,
    dependencies=[IpLimited],
    responses=problems(RateLimitedError, ServiceUnavailableError),
)
def nonce(
    chain: ChainDep,
    verifier: VerifierDep,
    address: Annotated[
        str | None,
        Query(
            pattern=r"^0x[0-9a-fA-F]{40}$",
            description="the address that will sign in: answered back as the message must "
            "spell it (EIP-55), for a wallet that shares it in lower case",
        ),
    ] = None,
) -> NonceResponse:
    """A fresh single-use nonce for an EIP-4361 (SIWE) message."""
    value, expires = verifier.nonces.issue()
    return NonceResponse(
        nonce=value,
        expires_at=utc_iso(expires),
        domain=verifier.domain,
        chain_id=chain.chain_id,
        address=to_checksum_address(address) if address else None,
    )


@router.post(
    "/verify",
    response_model=SessionResponse,
    dependencies=[IpLimited],
    responses=problems(*SIWE_REFUSALS, RateLimitedError, ServiceUnavailableError),
)
def verify(body: VerifyRequest, verifier: VerifierDep, signer: SignerDep) -> SessionResponse:
    """Checks a signed SIWE message (EOA or ERC-1271 wallet) and issues a session token.

    The message's domain must be this server's public authority (`DEPIN_API_PUBLIC_URL`, as
    `/v1/auth/nonce` reports it) and its URI a page on the same origin; Issued At may be at most
    `DEPIN_API_SIWE_CLOCK_SKEW_S` ahead of the server's clock; Expiration Time and Not Before,
    the chain id and the nonce are checked before the signature.
    """
    address = verifier.verify(body.message, body.signature)
    token, session = signer.issue(address, verifier.chain_id)
    return SessionResponse(
        token=token,
        address=session.address,
        chain_id=session.chain_id,
        expires_at=utc_iso(session.expires_at),
    )


@router.get(
    "/me", response_model=MeResponse, responses=problems(UnauthorizedError, SessionRevokedError)
)
def me(session: CurrentSessionDep) -> MeResponse:
    """Who the bearer token says the caller is."""
    return MeResponse(
        address=session.address,
        chain_id=session.chain_id,
        expires_at=utc_iso(session.expires_at),
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(UnauthorizedError, SessionRevokedError),
)
def logout(request: Request, session: CurrentSessionDep) -> Response:
    """Signs the bearer session token out: from now on it gets 401 `session_revoked`
    everywhere, on every worker and host, though its expiry has not come."""
    request.app.state.revocations.revoke(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
