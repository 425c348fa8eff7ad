"""Typed data a provider's wallet signs, and the gasless relay of what it signed."""

from __future__ import annotations

from collections.abc import Callable

from eth_utils import to_checksum_address
from fastapi import APIRouter, Request, status
from fastapi.types import DecoratedCallable

from api import relay
from api.deps import ChainDep, IpLimited, SettingsDep
from api.errors import (
    RELAY_PROBLEMS,
    NotOwnerError,
    RateLimitedError,
    ServiceUnavailableError,
    ValidationProblem,
)
from api.ratelimit import TokenBucket
from api.routes._problems import problems
from api.schemas.onboarding import (
    AgentAuthorizationRequest,
    AgentRevocationRequest,
    DeregistrationRequest,
    ProfileRequest,
    RelayRequest,
    RelayResponse,
    TypedData,
    TypedDataResponse,
)
from depin import metrics
from depin.eip712 import Message
from depin.registry import Profile, RegistryClient

router = APIRouter(tags=["onboarding"])


def _typed_data(path: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """Registers a route answering with the typed data a wallet signs."""
    return router.post(
        path,
        response_model=TypedDataResponse,
        dependencies=[IpLimited],
        responses=problems(RateLimitedError, ServiceUnavailableError),
        tags=["typed-data"],
    )


def _answer(chain: ChainDep, build: Callable[[RegistryClient], Message]) -> TypedDataResponse:
    block = int(chain.w3.eth.block_number)
    message = build(chain.registry)
    domain = chain.registry.domain
    return TypedDataResponse(
        typed_data=TypedData.model_validate(message.typed_data(domain)),
        digest="0x" + message.digest(domain).hex(),
        nonce=int(getattr(message, "nonce")),  # noqa: B009 - every registry message has one
        deadline=int(getattr(message, "deadline")),  # noqa: B009
        as_of_block=block,
    )


def _profile(body: ProfileRequest) -> Profile:
    for field, limit in (("name", 64), ("region", 32), ("endpoint", 256), ("metadata_uri", 256)):
        size = len(getattr(body, field).encode())
        if size > limit:
            raise ValidationProblem(f"{field} is {size} bytes of UTF-8; at most {limit}")
    return Profile(
        body.name,
        body.region,
        body.endpoint,
        body.metadata_uri,
        bytes.fromhex(body.metadata_hash[2:]),
    )


def _profile_answer(
    body: ProfileRequest,
    chain: ChainDep,
    settings: SettingsDep,
    make: Callable[..., Message],
) -> TypedDataResponse:
    """The typed data of the profile message ``make`` (a method of the registry's client) builds
    for the body's provider and profile."""
    profile = _profile(body)
    ttl = body.ttl or settings.signature_ttl
    return _answer(chain, lambda c: make(c, body.provider, profile, ttl=ttl))


@_typed_data("/v1/typed-data/registration")
def registration(body: ProfileRequest, chain: ChainDep, settings: SettingsDep) -> TypedDataResponse:
    """The `Registration` a wallet signs to register gaslessly (current nonce, a deadline)."""
    return _profile_answer(body, chain, settings, RegistryClient.registration)


@_typed_data("/v1/typed-data/profile-update")
def profile_update(
    body: ProfileRequest, chain: ChainDep, settings: SettingsDep
) -> TypedDataResponse:
    """The `ProfileUpdate` a registered provider signs to replace its profile."""
    return _profile_answer(body, chain, settings, RegistryClient.profile_update)


@_typed_data("/v1/typed-data/agent-authorization")
def agent_authorization(
    body: AgentAuthorizationRequest, chain: ChainDep, settings: SettingsDep
) -> TypedDataResponse:
    """The `AgentAuthorization` a provider signs to authorize an agent key until `expires_at`."""
    ttl = body.ttl or settings.signature_ttl
    return _answer(
        chain, lambda c: c.agent_authorization(body.provider, body.agent, body.expires_at, ttl=ttl)
    )


@_typed_data("/v1/typed-data/agent-revocation")
def agent_revocation(
    body: AgentRevocationRequest, chain: ChainDep, settings: SettingsDep
) -> TypedDataResponse:
    """The `AgentRevocation` a provider signs to revoke an agent key."""
    ttl = body.ttl or settings.signature_ttl
    return _answer(chain, lambda c: c.agent_revocation(body.provider, body.agent, ttl=ttl))


@_typed_data("/v1/typed-data/deregistration")
def deregistration(
    body: DeregistrationRequest, chain: ChainDep, settings: SettingsDep
) -> TypedDataResponse:
    """The `Deregistration` a provider signs to leave the registry for good."""
    ttl = body.ttl or settings.signature_ttl
    return _answer(chain, lambda c: c.deregistration(body.provider, ttl=ttl))


@router.post(
    "/v1/relay",
    response_model=RelayResponse,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[IpLimited],
    responses=problems(*RELAY_PROBLEMS),
    tags=["relay"],
)
def relay_signed(request: Request, body: RelayRequest, chain: ChainDep) -> RelayResponse:
    """Checks a signed registry message, then sends its `...WithSig` transaction (gasless).

    Nothing is sent unless the domain is this registry's, the deadline is ahead, the nonce is
    the provider's current one, the signature is the provider's (EOA recovery or ERC-1271
    `isValidSignature`) and a dry run of the transaction succeeds. Answers with the
    transaction's hash; the change shows in the explorer routes once indexed.
    """
    return relay_message(request, body, chain)


def relay_message(
    request: Request, body: RelayRequest, chain: ChainDep, *, only_for: str | None = None
) -> RelayResponse:
    """The relay's checks and send; ``only_for`` refuses (403 ``not_owner``) a message of any
    other provider (the console's relay, for the provider its credential names)."""
    typed = body.typed_data.model_dump() if body.typed_data is not None else None
    domain, message = relay.parse(chain, typed, body.primary_type, body.message)
    provider = to_checksum_address(str(getattr(message, "provider")))  # noqa: B009
    if only_for is not None and provider != only_for:
        raise NotOwnerError(
            f"the message is {provider}'s; this credential relays only {only_for}'s messages"
        )
    bucket: TokenBucket = request.app.state.address_bucket
    bucket.take(provider)
    signature = bytes.fromhex(body.signature[2:])
    relay.check(chain, domain, message, signature)
    relayed = relay.submit(chain, message, signature, request.app.state.relay_ledger)
    request.app.state.relayed.record(
        "0x" + message.digest(chain.registry.domain).hex(),
        provider,
        message.PRIMARY_TYPE,
        int(getattr(message, "nonce")),  # noqa: B009
        relayed.tx_hash,
    )
    metrics.RELAY.labels("relayed").inc()
    return RelayResponse(
        tx_hash=relayed.tx_hash,
        primary_type=message.PRIMARY_TYPE,
        provider=provider,
        nonce=int(getattr(message, "nonce")),  # noqa: B009
        relayer=relayed.relayer,
    )
