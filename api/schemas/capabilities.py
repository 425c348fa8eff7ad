"""Capability documents as the API answers them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from depin.capabilities import GpuCapabilities, HostCapabilities

_GPU_KEYS = (
    "0x8f7a4c3e2d1b0a99887766554433221100ffeeddccbbaa998877665544332211",
    "0x2b6e1d0c9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",
)


def _h100(slot: str, gpu_key: str) -> dict[str, Any]:
    return {
        "slot": slot,
        "gpu_key": gpu_key,
        "vendor": "nvidia",
        "model": "nvidia-h100-sxm5-80gb",
        "name": "NVIDIA H100 80GB HBM3",
        "memory_bytes": 85899345920,
        "driver_version": "550.90.07",
        "cuda_version": "12.4",
        "rocm_version": None,
        "compute_capability": "9.0",
        "architecture": "hopper",
        "vbios_version": "96.00.99.00.01",
        "pcie": {"generation": 5, "width": 16},
        "links": {"kind": "nvlink", "links": 18, "active_links": 18, "version": 4},
        "mig_enabled": False,
        "mig_instances": [],
        "ecc_enabled": True,
        "power_limit_watts": 700,
        "max_sm_clock_mhz": 1980,
        "max_memory_clock_mhz": 2619,
    }


#: a two-GPU host's document, every field present as its canonical bytes have them
CAPABILITIES_EXAMPLE: dict[str, Any] = {
    "schema": "depin.capabilities/1",
    "host": {
        "cpu_model": "AMD EPYC 9454 48-Core Processor",
        "cpu_cores": 96,
        "ram_gib": 1511,
        "disk_free_gib": 6789,
        "os": "Ubuntu 22.04.4 LTS",
        "kernel": "5.15.0-112-generic",
        "container_runtimes": ["docker", "nvidia-container-toolkit"],
    },
    "gpus": [_h100("00000000:18:00.0", _GPU_KEYS[0]), _h100("00000000:2A:00.0", _GPU_KEYS[1])],
}
#: keccak256 of the example's RFC 8785 bytes
CAPABILITIES_HASH_EXAMPLE = "0x36c199aa5eb464af3cf4460e57cc343b836771f1b0aafc63b7f2ed5622ecc786"


_STORED_EXAMPLE: dict[str, Any] = {
    "document_hash": CAPABILITIES_HASH_EXAMPLE,
    "stored": True,
    "gpu_keys": sorted(_GPU_KEYS),
}


class CapabilitiesStored(BaseModel):
    """The answer to a document put under its hash."""

    model_config = ConfigDict(json_schema_extra={"examples": [_STORED_EXAMPLE]})

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
