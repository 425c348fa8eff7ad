"""Who is calling a console route: a signed-in provider (a SIWE session token) or one of its
API tokens, and what it may do there (scopes).

An API token is ``depin_pat_`` followed by 43 base64url characters (32 random bytes). Only its
SHA-256 is stored; the token is shown once, when it is made. A provider makes tokens for its
scripts with the scopes they need:

- ``read``: the console's reads (fleet, agents, attestations, relayed transactions,
  subscriptions and their delivery log);
- ``alerts:write``: subscribe, change and delete webhook subscriptions;
- ``relay``: relay the provider's own signed registry messages (``/v1/console/relay``).

A session holds every scope, and one more that no token can hold: ``tokens``, the management of
tokens (a leaked token cannot mint others). Every console route declares its scope through one
dependency, :func:`require`; a test walks the route table and checks that each one does.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Request

from api.auth import Revocations, Session, TokenSigner
from api.errors import (
    InsufficientScopeError,
    TokenExpiredError,
    TokenLimitError,
    TokenRevokedError,
    UnauthorizedError,
    UnknownTokenError,
)
from api.shared import State, now, owned

TOKEN_PREFIX = "depin_pat_"
#: the scopes an API token can hold
TOKEN_SCOPES = ("read", "alerts:write", "relay")
#: the scope of token management, held by sessions only
SESSION_SCOPE = "tokens"
ALL_SCOPES = (*TOKEN_SCOPES, SESSION_SCOPE)
#: at most this many live (unrevoked) tokens per provider
MAX_TOKENS = 100
#: a token's last use is written at most this often (seconds)
TOUCH_EVERY_S = 60.0

__all__ = [
    "ALL_SCOPES",
    "SESSION_SCOPE",
    "TOKEN_PREFIX",
    "TOKEN_SCOPES",
    "ApiToken",
    "Principal",
    "ScopeCheck",
    "TokenStore",
    "hash_token",
    "require",
]


@dataclass(frozen=True)
class Principal:
    """The provider a request acts for, and how it proved it."""

    provider: str
    scopes: frozenset[str]
    kind: Literal["session", "token"]
    token_id: str | None = None
    session: Session | None = None


@dataclass(frozen=True)
class ApiToken:
    """A token as stored (never the token itself)."""

    id: str
    provider: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None


def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256 of its text, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


_COLUMNS = "id, provider, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at"


def _token(row: Any) -> ApiToken:
    return ApiToken(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        tuple(str(row[4]).split()),
        float(row[5]),
        None if row[6] is None else float(row[6]),
        None if row[7] is None else float(row[7]),
        None if row[8] is None else float(row[8]),
    )


class TokenStore:
    """API tokens in the state every worker shares."""

    def __init__(self, state: State) -> None:
        self.state = state

    def create(
        self, provider: str, name: str, scopes: tuple[str, ...], expires_at: float | None
    ) -> tuple[str, ApiToken]:
        """A new token for ``provider``: (the token, shown once; its record)."""
        secret = (
            TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        )
        token = ApiToken(
            "tok_" + secrets.token_hex(8),
            provider,
            name,
            secret[: len(TOKEN_PREFIX) + 6],
            tuple(s for s in TOKEN_SCOPES if s in scopes),
            now(),
            expires_at,
            None,
            None,
        )
        with self.state.transaction() as db:
            db.lock(f"tokens:{provider}")
            live = db.execute(
                "SELECT count(*) FROM api_tokens WHERE provider = ? AND revoked_at IS NULL",
                (provider,),
            ).fetchone()
            if int(live[0]) >= MAX_TOKENS:
                raise TokenLimitError(
                    f"{provider} has {MAX_TOKENS} live API tokens; revoke one first",
                    limit=MAX_TOKENS,
                )
            db.execute(
                "INSERT INTO api_tokens (id, provider, name, token_hash, prefix, scopes, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token.id,
                    provider,
                    name,
                    hash_token(secret),
                    token.prefix,
                    " ".join(token.scopes),
                    token.created_at,
                    expires_at,
                ),
            )
        return secret, token

    def list(self, provider: str) -> list[ApiToken]:
        with self.state.transaction() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM api_tokens WHERE provider = ? ORDER BY created_at, id",
                (provider,),
            ).fetchall()
        return [_token(r) for r in rows]

    def revoke(self, token_id: str, provider: str) -> ApiToken:
        """Revokes ``provider``'s token ``token_id`` (again: no change)."""
        with self.state.transaction() as db:
            token = owned(db, "api_tokens", _COLUMNS, "API token", token_id, provider, _token)
            db.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now(), token_id),
            )
        return token

    def authenticate(self, secret: str) -> ApiToken:
        """The live token whose text is ``secret``; 401 (named) otherwise."""
        with self.state.transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = ?", (hash_token(secret),)
            ).fetchone()
            if row is None:
                raise UnknownTokenError("this API token is not known (mistyped, or deleted)")
            token = _token(row)
            at = now()
            if token.revoked_at is not None:
                raise TokenRevokedError(f"API token {token.id} ({token.name}) was revoked")
            if token.expires_at is not None and token.expires_at <= at:
                raise TokenExpiredError(f"API token {token.id} ({token.name}) has expired")
            if token.last_used_at is None or at - token.last_used_at >= TOUCH_EVERY_S:
                db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (at, token.id))
        return token


def authenticate(request: Request, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer`` header: an API token or a session."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise UnauthorizedError(
            "send `Authorization: Bearer <token>`: a session token from /v1/auth/verify or an "
            "API token (depin_pat_...)"
        )
    credential = authorization[7:].strip()
    state = request.app.state
    if credential.startswith(TOKEN_PREFIX):
        tokens: TokenStore = state.tokens
        token = tokens.authenticate(credential)
        return Principal(token.provider, frozenset(token.scopes), "token", token_id=token.id)
    signer: TokenSigner = state.token_signer
    revocations: Revocations = state.revocations
    session = revocations.check(signer.verify(credential))
    return Principal(session.address, frozenset(ALL_SCOPES), "session", session=session)


class ScopeCheck:
    """The dependency that authenticates a console route's caller and requires ``scope``."""

    def __init__(self, scope: str) -> None:
        if scope not in ALL_SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope

    def __call__(
        self,
        request: Request,
        authorization: Annotated[
            str | None,
            Header(description="Bearer <session token> or Bearer <API token, depin_pat_...>"),
        ] = None,
    ) -> Principal:
        principal = authenticate(request, authorization)
        if self.scope not in principal.scopes:
            held = " ".join(sorted(principal.scopes)) or "none"
            why = (
                "only a signed-in session manages API tokens"
                if self.scope == SESSION_SCOPE
                else f"make a token with the {self.scope!r} scope"
            )
            raise InsufficientScopeError(
                f"this route needs the {self.scope!r} scope; the credential holds {held} ({why})",
                required_scope=self.scope,
            )
        return principal

    def __repr__(self) -> str:
        return f"ScopeCheck({self.scope!r})"


def require(scope: str) -> Any:
    """``Annotated`` metadata of a route's principal: ``Annotated[Principal, require("read")]``."""
    return Depends(ScopeCheck(scope))
