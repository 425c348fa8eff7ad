"""The provider's console: its API tokens, and its own relay (``/v1/console/...``).

Every route acts for the provider its credential names (a SIWE session or an API token) and
declares the scope it needs through :func:`api.credentials.require`; nothing here takes a
provider from the path, and a resource of another provider's is refused (403 ``not_owner``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from api.auth import utc_iso
from api.credentials import SESSION_SCOPE, ApiToken, Principal, TokenStore, require
from api.deps import ChainDep
from api.errors import (
    ContractRefusedError,
    ExpiredDeadlineError,
    InsufficientScopeError,
    InvalidNonceError,
    InvalidSignatureError,
    NonceUsedError,
    NotFoundError,
    NotOwnerError,
    RateLimitedError,
    ServiceUnavailableError,
    SessionRevokedError,
    TokenExpiredError,
    TokenLimitError,
    TokenRevokedError,
    UnauthorizedError,
    UnknownTokenError,
    WrongDomainError,
)
from api.routes._problems import problems
from api.routes.onboarding import relay_message
from api.schemas.console import (
    TokenCreated,
    TokenCreateRequest,
    TokenItem,
    TokenList,
    WhoAmI,
)
from api.schemas.onboarding import RelayRequest, RelayResponse
from api.shared import now

router = APIRouter(prefix="/v1/console", tags=["console"])

Reader = Annotated[Principal, require("read")]
TokenManager = Annotated[Principal, require(SESSION_SCOPE)]
Relayer = Annotated[Principal, require("relay")]

#: what any console route may answer about its credential
AUTH_PROBLEMS = (
    UnauthorizedError,
    SessionRevokedError,
    UnknownTokenError,
    TokenRevokedError,
    TokenExpiredError,
    InsufficientScopeError,
)
TokenId = Annotated[str, Path(pattern=r"^tok_[0-9a-f]{16}$", description="an API token's id")]


def _item(token: ApiToken) -> TokenItem:
    at = now()
    return TokenItem(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scopes=list(token.scopes),
        created_at=utc_iso(token.created_at),
        expires_at=utc_iso(token.expires_at) if token.expires_at is not None else None,
        revoked_at=utc_iso(token.revoked_at) if token.revoked_at is not None else None,
        last_used_at=utc_iso(token.last_used_at) if token.last_used_at is not None else None,
        active=token.revoked_at is None and (token.expires_at is None or token.expires_at > at),
    )


def _tokens(request: Request) -> TokenStore:
    tokens: TokenStore = request.app.state.tokens
    return tokens


@router.get("/whoami", response_model=WhoAmI, responses=problems(*AUTH_PROBLEMS))
def whoami(principal: Reader) -> WhoAmI:
    """The provider the credential acts for, and its scopes."""
    return WhoAmI(
        provider=principal.provider,
        kind=principal.kind,
        scopes=sorted(principal.scopes),
        token_id=principal.token_id,
    )


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses=problems(*AUTH_PROBLEMS, TokenLimitError),
)
def create_token(
    principal: TokenManager, request: Request, body: TokenCreateRequest
) -> TokenCreated:
    """Makes an API token with `scopes` (`read`, `alerts:write`, `relay`) for the signed-in
    provider. The token is in this answer only: keep it; the API stores its SHA-256."""
    expires = now() + body.expires_in if body.expires_in is not None else None
    secret, token = _tokens(request).create(
        principal.provider, body.name, tuple(body.scopes), expires
    )
    return TokenCreated(**_item(token).model_dump(), token=secret)


@router.get("/tokens", response_model=TokenList, responses=problems(*AUTH_PROBLEMS))
def list_tokens(principal: TokenManager, request: Request) -> TokenList:
    """The signed-in provider's API tokens, revoked ones included (never the tokens)."""
    return TokenList(items=[_item(t) for t in _tokens(request).list(principal.provider)])


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*AUTH_PROBLEMS, NotFoundError, NotOwnerError),
)
def revoke_token(principal: TokenManager, request: Request, token_id: TokenId) -> Response:
    """Revokes one of the signed-in provider's API tokens: it gets 401 `token_revoked` from now
    on. Another provider's token is refused (403 `not_owner`)."""
    _tokens(request).revoke(token_id, principal.provider)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/relay",
    response_model=RelayResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(
        *AUTH_PROBLEMS,
        NotOwnerError,
        WrongDomainError,
        ExpiredDeadlineError,
        NonceUsedError,
        InvalidNonceError,
        InvalidSignatureError,
        ContractRefusedError,
        RateLimitedError,
        ServiceUnavailableError,
    ),
    tags=["relay"],
)
def console_relay(
    principal: Relayer, request: Request, body: RelayRequest, chain: ChainDep
) -> RelayResponse:
    """`/v1/relay` for a provider's scripts: the same checks, with a credential holding the
    `relay` scope, for the credential's own provider's messages only (else 403 `not_owner`)."""
    return relay_message(request, body, chain, only_for=principal.provider)
