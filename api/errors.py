"""API errors, rendered as RFC 9457 ``application/problem+json`` by :mod:`depin.problems`.

Each refusal has a stable ``type`` (``urn:depin:problem:<code>``) and a ``code`` extension
member with the same slug, so clients can branch on it without parsing English.
"""

from __future__ import annotations

from typing import Any, ClassVar

from depin.errors import DepinError
from depin.problems import PROBLEM_MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from depin.problems import TYPE_PREFIX as TYPE_PREFIX
from depin.problems import problem_document, type_uri


class ApiError(DepinError):
    """Base of every refusal the API answers with a problem document."""

    code = "api_error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request refused"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    @classmethod
    def type_uri(cls) -> str:
        return type_uri(cls.code)

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem_document(
            self.code,
            self.status,
            self.detail,
            title=self.title,
            instance=instance,
            extra=self.extra,
        )


class ValidationProblem(ApiError):
    code = "validation"
    status = 422
    title = "The request is not valid"


class InvalidFilterError(ApiError):
    code = "invalid_filter"
    status = 400
    title = "A filter, sort or cursor is not valid"


class NotFoundError(ApiError):
    code = "not_found"
    status = 404
    title = "Not found"


class MethodNotAllowedError(ApiError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed"


class InvalidSignatureError(ApiError):
    code = "invalid_signature"
    status = 400
    title = "The signature is not valid"


class ExpiredDeadlineError(ApiError):
    code = "expired_deadline"
    status = 400
    title = "The signed deadline has passed"


class ExpiredMessageError(ApiError):
    code = "expired_message"
    status = 400
    title = "The sign-in message has expired or is not valid yet"


class NotYetValidMessageError(ApiError):
    code = "not_yet_valid"
    status = 400
    title = "The sign-in message's Not Before time has not come"


class IssuedInFutureError(ApiError):
    code = "issued_in_future"
    status = 400
    title = "The sign-in message was issued ahead of the server's clock"


class WrongUriError(ApiError):
    code = "wrong_uri"
    status = 400
    title = "The sign-in message's URI is on another origin"


class NonceUsedError(ApiError):
    code = "nonce_used"
    status = 409
    title = "The nonce was already used"


class InvalidNonceError(ApiError):
    code = "invalid_nonce"
    status = 400
    title = "The nonce is not the one expected"


class WrongDomainError(ApiError):
    code = "wrong_domain"
    status = 400
    title = "Signed for another domain"


class WrongChainError(ApiError):
    code = "wrong_chain"
    status = 400
    title = "Signed for another chain"


class UnauthorizedError(ApiError):
    code = "unauthorized"
    status = 401
    title = "A valid session token is required"


class SessionRevokedError(UnauthorizedError):
    code = "session_revoked"
    title = "The session was signed out"


class UnknownTokenError(UnauthorizedError):
    code = "unknown_token"
    title = "The API token is not known"


class TokenRevokedError(UnauthorizedError):
    code = "token_revoked"
    title = "The API token was revoked"


class TokenExpiredError(UnauthorizedError):
    code = "token_expired"
    title = "The API token has expired"


class InsufficientScopeError(ApiError):
    """The credential is valid but does not carry the scope the route needs."""

    code = "insufficient_scope"
    status = 403
    title = "The credential lacks the scope this route needs"


class NotOwnerError(ApiError):
    """The resource belongs to another provider than the credential's."""

    code = "not_owner"
    status = 403
    title = "The resource belongs to another provider"


class TokenLimitError(ApiError):
    code = "token_limit"
    status = 409
    title = "Too many API tokens"


class InvalidWebhookUrlError(ApiError):
    code = "invalid_webhook_url"
    status = 422
    title = "The webhook URL is not one the API calls"


class PrivateWebhookUrlError(ApiError):
    code = "private_webhook_url"
    status = 422
    title = "The webhook URL resolves to a private address"


class UnresolvableWebhookUrlError(ApiError):
    code = "unresolvable_webhook_url"
    status = 422
    title = "The webhook URL's host does not resolve"


class SubscriptionLimitError(ApiError):
    code = "subscription_limit"
    status = 409
    title = "Too many webhook subscriptions"


class RateLimitedError(ApiError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(detail, headers={"Retry-After": str(seconds)}, retry_after=seconds)


class ContractRefusedError(ApiError):
    code = "contract_refused"
    status = 422
    title = "The registry contract would refuse this transaction"


class UnknownAgentError(ApiError):
    """No provider ever authorized this agent key (as far as the inventory has indexed)."""

    code = "unknown_agent"
    status = 404
    title = "No provider authorized this agent key"


class AgentRevokedError(ApiError):
    """The agent key's authorization is revoked already: there is nothing left to revoke."""

    code = "agent_revoked"
    status = 409
    title = "The agent key is revoked already"


class InvalidExpiryError(ApiError):
    """An agent authorization's expiry the registry would refuse (not after the chain's now)."""

    code = "invalid_expiry"
    status = 422
    title = "The registry does not accept this expiry"


class InvalidCapabilitiesError(ApiError):
    code = "invalid_capabilities"
    status = 422
    title = "The capability document does not follow its schema"


class CapabilitiesTooLargeError(ApiError):
    code = "capabilities_too_large"
    status = 413
    title = "The capability document is too large"


class CapabilitiesHashMismatchError(ApiError):
    code = "capabilities_hash_mismatch"
    status = 422
    title = "The capability document does not hash to the hash it is put under"


class CapabilitiesNotAttestedError(ApiError):
    code = "capabilities_not_attested"
    status = 409
    title = "No attestation names this capability document"


class ServiceUnavailableError(ApiError):
    code = "unavailable"
    status = 503
    title = "A backing service is unavailable"
    retryable = True


class IndexerHaltedError(ServiceUnavailableError):
    """The indexer stopped on something no retry heals; what the inventory holds may not be
    the chain's any more (``reason``, ``fix``)."""

    code = "indexer_halted"
    title = "The indexer has halted"

    def __init__(self, detail: str, *, reason: str, fix: str, retry_after: int) -> None:
        ApiError.__init__(
            self, detail, headers={"Retry-After": str(retry_after)}, reason=reason, fix=fix
        )


class InternalError(ApiError):
    code = "internal"
    status = 500
    title = "Internal error"


#: what any route behind a credential (session or API token) may answer about it
AUTH_PROBLEMS: tuple[type[ApiError], ...] = (
    UnauthorizedError,
    SessionRevokedError,
    UnknownTokenError,
    TokenRevokedError,
    TokenExpiredError,
    InsufficientScopeError,
)
#: what relaying a signed registry message may answer
RELAY_PROBLEMS: tuple[type[ApiError], ...] = (
    WrongDomainError,
    ExpiredDeadlineError,
    NonceUsedError,
    InvalidNonceError,
    InvalidSignatureError,
    ContractRefusedError,
    RateLimitedError,
    ServiceUnavailableError,
)

ALL_PROBLEMS: tuple[type[ApiError], ...] = (
    ValidationProblem,
    InvalidFilterError,
    NotFoundError,
    MethodNotAllowedError,
    InvalidSignatureError,
    ExpiredDeadlineError,
    ExpiredMessageError,
    NonceUsedError,
    InvalidNonceError,
    WrongDomainError,
    WrongChainError,
    *AUTH_PROBLEMS,
    NotOwnerError,
    TokenLimitError,
    InvalidWebhookUrlError,
    PrivateWebhookUrlError,
    UnresolvableWebhookUrlError,
    SubscriptionLimitError,
    RateLimitedError,
    ContractRefusedError,
    UnknownAgentError,
    AgentRevokedError,
    InvalidExpiryError,
    InvalidCapabilitiesError,
    CapabilitiesTooLargeError,
    CapabilitiesHashMismatchError,
    CapabilitiesNotAttestedError,
    ServiceUnavailableError,
    IndexerHaltedError,
    InternalError,
)
