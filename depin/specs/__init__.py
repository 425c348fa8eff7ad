"""The GPU spec table: vendor figures for known models, keyed by PCI ids.

The agent uses it to name what it finds; the oracle uses it to size challenges from a claimed
model's peak throughput. Figures are peak, dense (never the sparse figure) and come from each
vendor's datasheet, named in every entry's ``source``.

Example:
    >>> from depin.specs import lookup
    >>> lookup(0x10DE, 0x2330).model_id
    'nvidia-h100-sxm5-80gb'
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "PCI_VENDORS",
    "PCI_VENDOR_IDS",
    "GpuSpec",
    "SpecSource",
    "SpecVendor",
    "by_model_id",
    "load_specs",
    "lookup",
]

SpecVendor = Literal["nvidia", "amd", "intel"]

PCI_VENDORS: dict[int, SpecVendor] = {0x10DE: "nvidia", 0x1002: "amd", 0x8086: "intel"}
"""The GPU vendors by primary PCI vendor id (never a subsystem vendor)."""

PCI_VENDOR_IDS: dict[str, int] = {name: vendor_id for vendor_id, name in PCI_VENDORS.items()}
"""The inverse of :data:`PCI_VENDORS`: a vendor's PCI vendor id by name."""


def _hex(value: object) -> int:
    if isinstance(value, str):
        return int(value, 16)
    if isinstance(value, int):
        return value
    raise ValueError(f"expected a hex string or an int, got {value!r}")


class SpecSource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=3)
    url: str = Field(pattern=r"^https://")


class GpuSpec(BaseModel):
    """One GPU model with its vendor's peak figures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: at most 32 characters: attestations carry it as a ``bytes32``
    model_id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)+$", max_length=32)
    vendor: SpecVendor
    vendor_id: int
    device_ids: tuple[int, ...] = Field(min_length=1)
    name: str
    memory_bytes: int = Field(gt=0)
    fp32_tflops: float | None = Field(default=None, gt=0)
    fp16_tflops: float | None = Field(default=None, gt=0)
    int8_tops: float | None = Field(default=None, gt=0)
    memory_bandwidth_gbps: float = Field(gt=0)
    source: SpecSource
    notes: str | None = None

    @field_validator("vendor_id", mode="before")
    @classmethod
    def _vendor_id(cls, value: object) -> int:
        return _hex(value)

    @field_validator("device_ids", mode="before")
    @classmethod
    def _device_ids(cls, value: object) -> tuple[int, ...]:
        if not isinstance(value, list | tuple):
            raise ValueError("device_ids must be a list")
        return tuple(_hex(v) for v in value)


@lru_cache(maxsize=1)
def load_specs() -> tuple[GpuSpec, ...]:
    """Every entry of the table, as shipped in ``depin/specs/gpus.json``."""
    text = resources.files(__name__).joinpath("gpus.json").read_text()
    return tuple(GpuSpec.model_validate(entry) for entry in json.loads(text)["gpus"])


@lru_cache(maxsize=1)
def _index() -> dict[tuple[int, int], tuple[GpuSpec, ...]]:
    index: dict[tuple[int, int], list[GpuSpec]] = {}
    for spec in load_specs():
        for device_id in spec.device_ids:
            index.setdefault((spec.vendor_id, device_id), []).append(spec)
    return {key: tuple(specs) for key, specs in index.items()}


def lookup(vendor_id: int, device_id: int, memory_bytes: int | None = None) -> GpuSpec | None:
    """The model with this primary PCI vendor and device id, or ``None`` if unknown.

    Where one device id covers cards with different memory sizes, ``memory_bytes`` (as the
    driver reports it) picks the nearest; without it such an id is ambiguous and gives ``None``.
    """
    candidates = _index().get((vendor_id, device_id), ())
    if len(candidates) == 1:
        return candidates[0]
    if not candidates or not memory_bytes or memory_bytes <= 0:
        return None
    return min(candidates, key=lambda s: abs(math.log(s.memory_bytes / memory_bytes)))


def by_model_id(model_id: str) -> GpuSpec | None:
    """The entry with this canonical model id, e.g. ``nvidia-h100-sxm5-80gb``."""
    for spec in load_specs():
        if spec.model_id == model_id:
            return spec
    return None
