"""The capability document: what one GPU host offers beyond the attested figures.

The agent writes one document per host (its GPUs, by slot, and the host itself), canonicalizes it
with RFC 8785 (JSON Canonicalization Scheme) and puts ``keccak256`` of those bytes in each of the
host's GPU attestations (``GpuAttestation.capabilities``). The document travels beside the
attestation, content-addressed: whoever holds it can check it against the hash the chain holds.

:func:`gpu_facets` flattens a document into the per-GPU values a scheduler filters on, with
version keys that sort numerically as text (``535.104`` before ``550.54``, ``12.9`` before
``12.10``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, model_validator

from depin.crypto import keccak, to_hex

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "SCHEMA",
    "ZERO_HASH",
    "CapabilityDocument",
    "ContainerRuntime",
    "GpuCapabilities",
    "GpuFacets",
    "HostCapabilities",
    "Interconnect",
    "MigInstanceCapabilities",
    "NvlinkCapabilities",
    "PcieCapabilities",
    "canonical_bytes",
    "document_hash",
    "gpu_facets",
    "version_key",
]

SCHEMA: Final = "depin.capabilities/1"
#: The ``capabilities`` word of an attestation without a document.
ZERO_HASH = bytes(32)
#: A document of a 256-GPU host stays well under this; anything larger is refused unread.
MAX_DOCUMENT_BYTES = 512 * 1024
MAX_GPUS = 256

ContainerRuntime = Literal["docker", "nvidia-container-toolkit", "podman"]
Interconnect = Literal["nvlink", "xgmi", "pcie"]

Text = Annotated[str, Field(min_length=1, max_length=200)]
Count = Annotated[int, Field(ge=0, le=1 << 32)]
#: RFC 8785 writes numbers as IEEE 754 doubles: an integer past 2**53 - 1 has no exact form
#: (I-JSON's safe range), so a larger figure is refused by the schema, not by the serialiser.
SAFE_INTEGER: Final = (1 << 53) - 1
Bytes = Annotated[int, Field(ge=0, le=SAFE_INTEGER)]
GpuKeyHex = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$")]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PcieCapabilities(_Part):
    """The widest link the device and its slot can train to (NVML's max link gen and width)."""

    generation: Annotated[int, Field(ge=1, le=16)] | None = None
    width: Annotated[int, Field(ge=1, le=64)] | None = None


class NvlinkCapabilities(_Part):
    """NVLink (NVIDIA) or xGMI / Infinity Fabric (AMD) links of one GPU."""

    kind: Literal["nvlink", "xgmi"]
    links: Annotated[int, Field(ge=0, le=64)]
    active_links: Annotated[int, Field(ge=0, le=64)]
    version: Annotated[int, Field(ge=0, le=255)] | None = None


class MigInstanceCapabilities(_Part):
    """One MIG device: its profile name and memory (its UUID stays on the host)."""

    index: Annotated[int, Field(ge=0, le=64)]
    name: Text | None = None
    memory_bytes: Bytes | None = None


class GpuCapabilities(_Part):
    """One GPU of the host, as discovery found it.

    ``gpu_key`` is the key its attestation names (a hash of vendor and UUID); ``model`` and
    ``memory_bytes`` are the attested ones.
    """

    slot: Text
    gpu_key: GpuKeyHex
    vendor: Literal["nvidia", "amd", "intel", "other"]
    model: Annotated[str, Field(min_length=1, max_length=64)]
    name: Text | None = None
    memory_bytes: Bytes
    driver_version: Text | None = None
    cuda_version: Text | None = None
    rocm_version: Text | None = None
    compute_capability: Text | None = None
    architecture: Text | None = None
    vbios_version: Text | None = None
    pcie: PcieCapabilities = PcieCapabilities()
    links: NvlinkCapabilities | None = None
    mig_enabled: bool | None = None
    mig_instances: Annotated[list[MigInstanceCapabilities], Field(max_length=64)] = []
    ecc_enabled: bool | None = None
    power_limit_watts: Annotated[int, Field(ge=0, le=100_000)] | None = None
    max_sm_clock_mhz: Annotated[int, Field(ge=0, le=100_000)] | None = None
    max_memory_clock_mhz: Annotated[int, Field(ge=0, le=100_000)] | None = None


class HostCapabilities(_Part):
    """The machine around the GPUs. ``ram_gib`` and ``disk_free_gib`` are whole GiB (rounded
    down), so an unchanged host writes the same document."""

    cpu_model: Text | None = None
    cpu_cores: Count | None = None
    ram_gib: Count | None = None
    disk_free_gib: Count | None = None
    os: Text | None = None
    kernel: Text | None = None
    container_runtimes: Annotated[list[ContainerRuntime], Field(max_length=3)] = []

    @model_validator(mode="after")
    def _runtimes_sorted(self) -> HostCapabilities:
        if self.container_runtimes != sorted(set(self.container_runtimes)):
            raise ValueError("container_runtimes: each name once, in ascending order")
        return self


class CapabilityDocument(_Part):
    """One host's document (schema ``depin.capabilities/1``): GPUs in ascending slot order."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, validate_by_name=True, validate_by_alias=True
    )

    schema_: Literal["depin.capabilities/1"] = Field(default=SCHEMA, alias="schema")
    host: HostCapabilities
    gpus: Annotated[list[GpuCapabilities], Field(min_length=1, max_length=MAX_GPUS)]

    @model_validator(mode="after")
    def _gpus_ordered(self) -> CapabilityDocument:
        slots = [g.slot for g in self.gpus]
        if slots != sorted(set(slots)):
            raise ValueError("gpus: each slot once, in ascending order")
        if len({g.gpu_key for g in self.gpus}) != len(self.gpus):
            raise ValueError("gpus: each gpu_key once")
        return self

    def as_json(self) -> dict[str, Any]:
        """The document as JSON values (what is canonicalized and sent)."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data

    def gpu(self, key: bytes) -> GpuCapabilities | None:
        """The entry of the GPU whose key is ``key``, if the document lists it."""
        wanted = to_hex(key)
        return next((g for g in self.gpus if g.gpu_key == wanted), None)


def canonical_bytes(document: CapabilityDocument) -> bytes:
    """RFC 8785 bytes of the document (every field present, ``null`` where unknown)."""
    return rfc8785.dumps(document.as_json())


def document_hash(document: CapabilityDocument) -> bytes:
    """``keccak256`` of :func:`canonical_bytes`: what an attestation's ``capabilities`` holds."""
    return keccak(canonical_bytes(document))


# ---------------------------------------------------------------------- facets

_VERSION = re.compile(r"^\d{1,8}(\.\d{1,8}){0,3}$")
VERSION_DIGITS = 8


def version_key(version: str | None) -> str | None:
    """A dotted version as text that sorts numerically: each component zero-padded to 8 digits
    (``12.10`` -> ``00000012.00000010``), at most four components. ``None`` for anything else
    (vendor strings such as ``I915_23.10.54``), which then matches no minimum."""
    if version is None or not _VERSION.fullmatch(version.strip()):
        return None
    return ".".join(part.zfill(VERSION_DIGITS) for part in version.strip().split("."))


@dataclass(frozen=True)
class GpuFacets:
    """The flat, filterable values of one GPU of a document (and of its host)."""

    gpu_key: bytes
    driver_version: str | None
    driver_key: str | None
    cuda_key: str | None
    rocm_key: str | None
    compute_capability_key: str | None
    interconnect: Interconnect
    mig: bool
    pcie_gen: int | None
    host_cpu_cores: int | None
    host_ram_gib: int | None
    host_disk_gib: int | None
    runtime_docker: bool
    runtime_podman: bool
    runtime_nvidia: bool
    gpus_per_host: int


def _interconnect(gpu: GpuCapabilities) -> Interconnect:
    if gpu.links is not None and gpu.links.active_links > 0:
        return gpu.links.kind
    return "pcie"


def gpu_facets(document: CapabilityDocument) -> list[GpuFacets]:
    """Per GPU of ``document``, in its order, the values the inventory filters on."""
    host = document.host
    runtimes = set(host.container_runtimes)
    return [
        GpuFacets(
            gpu_key=bytes.fromhex(gpu.gpu_key[2:]),
            driver_version=gpu.driver_version,
            driver_key=version_key(gpu.driver_version),
            cuda_key=version_key(gpu.cuda_version),
            rocm_key=version_key(gpu.rocm_version),
            compute_capability_key=version_key(gpu.compute_capability),
            interconnect=_interconnect(gpu),
            mig=bool(gpu.mig_enabled),
            pcie_gen=gpu.pcie.generation,
            host_cpu_cores=host.cpu_cores,
            host_ram_gib=host.ram_gib,
            host_disk_gib=host.disk_free_gib,
            runtime_docker="docker" in runtimes,
            runtime_podman="podman" in runtimes,
            runtime_nvidia="nvidia-container-toolkit" in runtimes,
            gpus_per_host=len(document.gpus),
        )
        for gpu in document.gpus
    ]
