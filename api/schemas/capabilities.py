"""Capability documents as the API answers them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from depin.capabilities import GpuCapabilities, HostCapabilities


class CapabilitiesStored(BaseModel):
    """The answer to a document put under its hash."""

    document_hash: str = Field(description="keccak256 of the document's RFC 8785 bytes")
    stored: bool = Field(description="stored by this request (false: it was stored already)")
    gpu_keys: list[str] = Field(description="the GPUs whose latest attestation names it")


class GpuCapabilitiesView(BaseModel):
    """One GPU's part of its host's capability document, and the host."""

    document_hash: str = Field(description="the hash the GPU's latest attestation names")
    schema_: str = Field(alias="schema", description="the document's schema, depin.capabilities/1")
    gpus_per_host: int = Field(description="how many GPUs the document lists")
    gpu: GpuCapabilities
    host: HostCapabilities

    model_config = {"populate_by_name": True, "serialize_by_alias": True}

    @classmethod
    def of(cls, part: dict[str, Any]) -> GpuCapabilitiesView:
        return cls.model_validate(part)
