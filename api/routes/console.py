"""The provider's console (``/v1/console/...``): its API tokens, its fleet as the inventory
has it (GPUs, agents, attestations, relayed transactions), its webhook subscriptions with
their delivery log, and its own relay.

Every route acts for the provider its credential names (a SIWE session or an API token) and
declares the scope it needs through :func:`api.credentials.require`; nothing here takes a
provider from the path, and a resource of another provider's is refused (403 ``not_owner``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query, Request, Response, status

from api.alerts import AlertStore, Subscription, check_webhook_url, subscribe
from api.auth import utc_iso
from api.console.agents import owned_agent, revocable
from api.console.fleet import provider_agents, provider_attestations, provider_gpus
from api.console.relayed import RelayedMessages
from api.credentials import SESSION_SCOPE, ApiToken, Principal, TokenStore, require
from api.deps import ChainDep, InventoryReadable, SessionDep, SettingsDep
from api.errors import (
    AUTH_PROBLEMS,
    RELAY_PROBLEMS,
    AgentRevokedError,
    ApiError,
    IndexerHaltedError,
    InvalidExpiryError,
    InvalidFilterError,
    InvalidWebhookUrlError,
    NotFoundError,
    NotOwnerError,
    PrivateWebhookUrlError,
    RateLimitedError,
    ServiceUnavailableError,
    SubscriptionLimitError,
    TokenLimitError,
    UnknownAgentError,
    UnresolvableWebhookUrlError,
)
from api.routes._problems import problems
from api.routes.onboarding import _answer, relay_message
from api.schemas.common import page_fields
from api.schemas.console import (
    ConsoleAgents,
    ConsoleAttestations,
    ConsoleGpuPage,
    DeliveryItem,
    DeliveryLog,
    LogItem,
    RelayedItem,
    RelayedList,
    SubscriptionCreated,
    SubscriptionCreateRequest,
    SubscriptionItem,
    SubscriptionList,
    TokenCreated,
    TokenCreateRequest,
    TokenItem,
    TokenList,
    WhoAmI,
)
from api.schemas.console_agents import AgentRenewalRequest, AgentRevocationBody
from api.schemas.onboarding import RelayRequest, RelayResponse, TypedDataResponse
from api.shared import now
from depin.eip712 import Message
from depin.registry import RegistryClient

router = APIRouter(prefix="/v1/console", tags=["console"])

Reader = Annotated[Principal, require("read")]
TokenManager = Annotated[Principal, require(SESSION_SCOPE)]
Relayer = Annotated[Principal, require("relay")]
AlertWriter = Annotated[Principal, require("alerts:write")]

Readable = Annotated[None, InventoryReadable]
INVENTORY_PROBLEMS = (InvalidFilterError, ServiceUnavailableError, IndexerHaltedError)
Limit = Annotated[int, Query(ge=1, le=200, description="at most this many")]
SubscriptionId = Annotated[
    str, Path(pattern=r"^sub_[0-9a-f]{16}$", description="a webhook subscription's id")
]
AgentAddress = Annotated[
    str,
    Path(
        pattern=r"^0x[0-9a-fA-F]{40}$",
        description="one of the provider's agent keys (any case)",
        examples=["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"],
    ),
]
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
        *RELAY_PROBLEMS,
    ),
    tags=["relay"],
)
def console_relay(
    principal: Relayer, request: Request, body: RelayRequest, chain: ChainDep
) -> RelayResponse:
    """`/v1/relay` for a provider's scripts: the same checks, with a credential holding the
    `relay` scope, for the credential's own provider's messages only (else 403 `not_owner`)."""
    return relay_message(request, body, chain, only_for=principal.provider)


#: what the agent routes may answer besides the credential's refusals
AGENT_PROBLEMS = (
    NotOwnerError,
    UnknownAgentError,
    RateLimitedError,
    ServiceUnavailableError,
    IndexerHaltedError,
)


def _chain_time(chain: ChainDep) -> int:
    try:
        return int(chain.w3.eth.get_block("latest")["timestamp"])
    except Exception as exc:
        raise ServiceUnavailableError(f"the chain did not answer: {exc}") from None


def _typed(chain: ChainDep, build: Callable[[RegistryClient], Message]) -> TypedDataResponse:
    try:
        return _answer(chain, build)
    except ApiError:
        raise
    except Exception as exc:
        raise ServiceUnavailableError(f"the chain did not answer: {exc}") from None


@router.post(
    "/agents/{agent}/renewal",
    response_model=TypedDataResponse,
    responses=problems(*AUTH_PROBLEMS, *AGENT_PROBLEMS, InvalidExpiryError),
    tags=["typed-data"],
)
def agent_renewal(
    principal: Relayer,
    _readable: Readable,
    request: Request,
    agent: AgentAddress,
    body: AgentRenewalRequest,
    session: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
) -> TypedDataResponse:
    """The `AgentAuthorization` the provider signs to renew one of its agent keys until
    `expires_at` (a revoked one is authorized again): the same message as
    `/v1/typed-data/agent-authorization`, for the credential's provider and an agent key it
    authorized only (else 403 `not_owner`, or 404 `unknown_agent` for a key no provider
    authorized). The expiry must be after the chain's current time (422 `invalid_expiry`).
    Relay the signature through `POST /v1/console/relay` (or `/v1/relay`); the new expiry
    shows in `GET /v1/console/agents` once indexed."""
    request.app.state.address_bucket.take(principal.provider)
    owned = owned_agent(session, principal.provider, to_checksum_address(agent))
    now = _chain_time(chain)
    if body.expires_at <= now:
        raise InvalidExpiryError(
            f"expires_at {body.expires_at} is not after the chain's current time {now}",
            field="expires_at",
            chain_time=now,
        )
    ttl = body.ttl or settings.signature_ttl
    return _typed(
        chain,
        lambda c: c.agent_authorization(owned.provider, owned.agent, body.expires_at, ttl=ttl),
    )


@router.post(
    "/agents/{agent}/revocation",
    response_model=TypedDataResponse,
    responses=problems(*AUTH_PROBLEMS, *AGENT_PROBLEMS, AgentRevokedError),
    tags=["typed-data"],
)
def agent_revocation(
    principal: Relayer,
    _readable: Readable,
    request: Request,
    agent: AgentAddress,
    session: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
    body: AgentRevocationBody | None = None,
) -> TypedDataResponse:
    """The `AgentRevocation` the provider signs to revoke one of its agent keys: for the
    credential's provider and an agent key it authorized only (else 403 `not_owner`, or 404
    `unknown_agent`); one revoked already is refused (409 `agent_revoked`). Relay the
    signature through `POST /v1/console/relay` (or `/v1/relay`)."""
    request.app.state.address_bucket.take(principal.provider)
    owned = revocable(owned_agent(session, principal.provider, to_checksum_address(agent)))
    ttl = (body.ttl if body is not None else None) or settings.signature_ttl
    return _typed(chain, lambda c: c.agent_revocation(owned.provider, owned.agent, ttl=ttl))


@router.get(
    "/gpus", response_model=ConsoleGpuPage, responses=problems(*AUTH_PROBLEMS, *INVENTORY_PROBLEMS)
)
def gpus(
    principal: Reader,
    _readable: Readable,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="from `next_cursor`")] = None,
) -> ConsoleGpuPage:
    """The provider's GPUs with their status: verified (attestation unexpired, unrevoked),
    online, available, healthy, uptimes over 24 h and 7 d, and the attestation's expiry
    (`expires_at`), exactly as the explorer shows them."""
    page = provider_gpus(
        session,
        principal.provider,
        window=settings.online_epochs,
        limit=limit,
        cursor=cursor,
        counts=request.app.state.counts,
        uptimes=request.app.state.uptimes,
    )
    return ConsoleGpuPage.model_validate(
        {"provider": principal.provider, **page_fields(page, "total_exact", "liveness")}
    )


@router.get(
    "/agents", response_model=ConsoleAgents, responses=problems(*AUTH_PROBLEMS, *INVENTORY_PROBLEMS)
)
def agents(principal: Reader, _readable: Readable, session: SessionDep) -> ConsoleAgents:
    """The provider's agent keys with their expiry, newest authorization first."""
    items, block = provider_agents(session, principal.provider)
    return ConsoleAgents.model_validate(
        {"provider": principal.provider, "items": items, "as_of_block": block}
    )


@router.get(
    "/attestations",
    response_model=ConsoleAttestations,
    responses=problems(*AUTH_PROBLEMS, *INVENTORY_PROBLEMS),
)
def attestations(
    principal: Reader,
    _readable: Readable,
    session: SessionDep,
    limit: Limit = 50,
    before_block: Annotated[int | None, Query(ge=0, lt=2**63)] = None,
) -> ConsoleAttestations:
    """The attestations of the provider's GPUs, newest first: accepted ones, and the ones the
    contract rejected with its reason (a rejection names only the GPU key, so it is shown once
    the GPU is the provider's in the inventory)."""
    items, block = provider_attestations(
        session, principal.provider, limit=limit, before_block=before_block
    )
    older = items[-1]["block_number"] if len(items) == limit else None
    return ConsoleAttestations.model_validate(
        {
            "provider": principal.provider,
            "items": items,
            "next_before_block": older,
            "as_of_block": block,
        }
    )


@router.get("/relayed", response_model=RelayedList, responses=problems(*AUTH_PROBLEMS))
def relayed(principal: Reader, request: Request, limit: Limit = 50) -> RelayedList:
    """The registry messages the API relayed for the provider (either relay), newest first,
    with each transaction's outcome."""
    store: RelayedMessages = request.app.state.relayed
    items = [
        RelayedItem(**{**item, "relayed_at": utc_iso(item["relayed_at"])})
        for item in store.of(principal.provider, limit)
    ]
    return RelayedList(provider=principal.provider, items=items)


def _alerts(request: Request) -> AlertStore:
    store: AlertStore = request.app.state.alerts
    return store


def _subscription(sub: Subscription) -> SubscriptionItem:
    return SubscriptionItem(
        id=sub.id,
        url=sub.url,
        events=list(sub.events),
        offline_epochs=sub.offline_epochs,
        expiring_within_s=sub.expiring_within_s,
        created_at=utc_iso(sub.created_at),
        active=sub.active,
        failures=sub.failures,
        disabled_at=utc_iso(sub.disabled_at) if sub.disabled_at is not None else None,
        disabled_reason=sub.disabled_reason,
    )


def _allow_http(request: Request, session: SessionDep, settings: SettingsDep) -> bool:
    """http:// webhooks: as configured, else only on a dev chain (the inventory's chain)."""
    if settings.alerts_allow_http is not None:
        return settings.alerts_allow_http
    from sqlalchemy import select

    from api.inventory._tables import CP
    from depin.settings import DEV_CHAIN_IDS

    chain_id = session.execute(select(CP.chain_id).where(CP.id == 1)).scalar_one_or_none()
    if chain_id is None and request.app.state.chain is not None:
        chain_id = request.app.state.chain.chain_id
    return chain_id is not None and int(chain_id) in DEV_CHAIN_IDS


@router.post(
    "/subscriptions",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        *AUTH_PROBLEMS,
        *INVENTORY_PROBLEMS,
        InvalidWebhookUrlError,
        PrivateWebhookUrlError,
        UnresolvableWebhookUrlError,
        SubscriptionLimitError,
    ),
)
def create_subscription(
    principal: AlertWriter,
    _readable: Readable,
    request: Request,
    body: SubscriptionCreateRequest,
    session: SessionDep,
    settings: SettingsDep,
) -> SubscriptionCreated:
    """Subscribes a webhook URL to the provider's alerts. The URL must be https (http on a
    dev chain) and, unless the operator allows it, resolve only to public addresses. The
    answer carries the signing secret, once. What already holds when it is made (GPUs offline,
    attestations and agents expiring) is watched from now on; the past is not alerted."""
    url = check_webhook_url(
        body.url.strip(),
        allow_http=_allow_http(request, session, settings),
        allow_private=settings.alerts_allow_private_urls,
    )
    sub = subscribe(
        request.app.state.shared,
        request.app.state.session_factory,
        principal.provider,
        url,
        tuple(body.events),
        offline_epochs=body.offline_epochs,
        expiring_within_s=body.expiring_within_s,
        limit=settings.alerts_max_subscriptions,
        at=now(),
    )
    return SubscriptionCreated(**_subscription(sub).model_dump(), secret=sub.secret)


@router.get("/subscriptions", response_model=SubscriptionList, responses=problems(*AUTH_PROBLEMS))
def list_subscriptions(principal: Reader, request: Request) -> SubscriptionList:
    """The provider's webhook subscriptions (never their secrets)."""
    return SubscriptionList(
        items=[_subscription(s) for s in _alerts(request).of(principal.provider)]
    )


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=DeliveryLog,
    responses=problems(*AUTH_PROBLEMS, NotFoundError, NotOwnerError),
)
def subscription_log(
    principal: Reader, request: Request, subscription_id: SubscriptionId, limit: Limit = 50
) -> DeliveryLog:
    """One subscription with its latest deliveries and its log: every attempt's outcome, and
    why it was disabled if it was. Another provider's is refused (403 `not_owner`)."""
    store = _alerts(request)
    sub = store.owned(subscription_id, principal.provider)
    return DeliveryLog(
        subscription=_subscription(sub),
        deliveries=[
            DeliveryItem(
                **{
                    **d,
                    "created_at": utc_iso(d["created_at"]),
                    "next_attempt_at": (
                        utc_iso(d["next_attempt_at"]) if d["next_attempt_at"] else None
                    ),
                    "delivered_at": utc_iso(d["delivered_at"]) if d["delivered_at"] else None,
                }
            )
            for d in store.deliveries(sub.id, limit)
        ],
        log=[LogItem(**{**e, "at": utc_iso(e["at"])}) for e in store.log(sub.id, limit)],
    )


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*AUTH_PROBLEMS, NotFoundError, NotOwnerError),
)
def delete_subscription(
    principal: AlertWriter, request: Request, subscription_id: SubscriptionId
) -> Response:
    """Deletes a subscription with its pending deliveries and log."""
    _alerts(request).delete(subscription_id, principal.provider)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/subscriptions/{subscription_id}/enable",
    response_model=SubscriptionItem,
    responses=problems(*AUTH_PROBLEMS, NotFoundError, NotOwnerError),
)
def enable_subscription(
    principal: AlertWriter, request: Request, subscription_id: SubscriptionId
) -> SubscriptionItem:
    """Enables a subscription disabled after failed deliveries; its pending deliveries are
    tried again at once."""
    return _subscription(_alerts(request).enable(subscription_id, principal.provider))
