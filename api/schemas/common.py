"""Schemas every resource shares: problem documents and the ``as_of_block`` envelope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from depin.eip712 import parse_int

Address = Annotated[
    str,
    Field(
        pattern=r"^0x[0-9a-fA-F]{40}$",
        examples=["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
        description="an Ethereum address (any case; answers use EIP-55 checksums)",
    ),
]
Hex = Annotated[
    str,
    Field(pattern=r"^0x([0-9a-fA-F]{2})*$", max_length=4098, examples=["0x1234"]),
]
Bytes32 = Annotated[
    str,
    Field(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "00" * 32]),
]


def _bounded(low: int, high: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        number = parse_int(value, "int256" if low < 0 else "uint256")
        if not low <= number <= high:
            raise ValueError(f"out of range: {low} <= n <= {high}")
        return number

    return parse


def _int_schema(low: int, high: int, description: str) -> dict[str, Any]:
    digits = len(str(high))
    return {
        "anyOf": [
            {"type": "integer", "minimum": low, "maximum": high},
            {"type": "string", "pattern": rf"^(0x[0-9a-fA-F]{{1,64}}|[0-9]{{1,{digits}}})$"},
        ],
        "description": f"{description} ({low} to {high}; an integer, or a decimal or "
        "0x-hex string as wallets send them)",
    }


Uint256 = Annotated[
    int,
    BeforeValidator(_bounded(0, 2**256 - 1)),
    WithJsonSchema(_int_schema(0, 2**256 - 1, "a uint256")),
]
ExpiresAt = Annotated[
    int,
    BeforeValidator(_bounded(1, 2**64 - 1)),
    WithJsonSchema(_int_schema(1, 2**64 - 1, "unix time the authorization ends")),
]
Ttl = Annotated[
    int,
    BeforeValidator(_bounded(60, 7 * 86400)),
    WithJsonSchema(_int_schema(60, 7 * 86400, "seconds until the signature's deadline")),
]


class Strict(BaseModel):
    """A request body: a field it does not declare is refused, naming the field."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:depin:problem:not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "no GPU with key 0x00…",
                    "code": "not_found",
                    "instance": "/v1/gpus/0x00",
                }
            ]
        },
    )

    type: str = Field(description="stable URI of the kind of refusal (urn:depin:problem:…)")
    title: str
    status: int
    detail: str
    code: str = Field(description="the type's slug, e.g. nonce_used")
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="field errors of a validation problem"
    )


class AsOf(BaseModel):
    as_of_block: int = Field(
        ge=0, description="the block at which this answer is true", examples=[123456]
    )


def page_fields(page: Any, *extra: str) -> dict[str, Any]:
    """A page's ``items``, ``next_cursor`` and ``total``, the ``extra`` attributes named, and its
    ``as_of_block``, in that order: the fields of a paged answer."""
    return {
        "items": page.items,
        "next_cursor": page.next_cursor,
        "total": page.total,
        **{name: getattr(page, name) for name in extra},
        "as_of_block": page.as_of_block,
    }
