"""Schemas every resource shares: problem documents and the ``as_of_block`` envelope."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

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
