"""API errors and their RFC 9457 ``application/problem+json`` rendering.

Each refusal has a stable ``type`` (``urn:depin:problem:<code>``) and a ``code`` extension
member with the same slug, so clients can branch on it without parsing English.
"""

from __future__ import annotations

from typing import Any, ClassVar

from depin.errors import DepinError

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:depin:problem:"


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
        return TYPE_PREFIX + cls.code.replace("_", "-")

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance is not None:
            body["instance"] = instance
        body.update(self.extra)
        return body


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


class ServiceUnavailableError(ApiError):
    code = "unavailable"
    status = 503
    title = "A backing service is unavailable"
    retryable = True


class InternalError(ApiError):
    code = "internal"
    status = 500
    title = "Internal error"


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
    UnauthorizedError,
    RateLimitedError,
    ContractRefusedError,
    ServiceUnavailableError,
    InternalError,
)
