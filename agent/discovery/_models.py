"""Typed, vendor-neutral records of what discovery finds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from depin.specs import PCI_VENDORS

Vendor = Literal["nvidia", "amd", "intel", "other"]
DeviceStatus = Literal["ok", "library_unavailable", "error"]


def vendor_of(vendor_id: int | None) -> Vendor:
    """The vendor named by a primary PCI vendor id (never the subsystem vendor)."""
    return PCI_VENDORS.get(vendor_id or -1, "other")


def normalize_bus_id(bus_id: str) -> str:
    """``00000000:18:00.0`` or ``0000:18:00.0`` -> ``0000:18:00.0`` (lower case)."""
    text = bus_id.strip().lower()
    parts = text.split(":")
    if len(parts) == 3:
        domain, bus, devfn = parts
        return f"{int(domain, 16):04x}:{bus}:{devfn}"
    if len(parts) == 2:
        return f"0000:{text}"
    return text


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PciInfo(_Record):
    """PCI identity of a device: where it sits and what it claims to be."""

    bus_id: str | None = None
    vendor_id: int | None = None
    device_id: int | None = None
    subsystem_vendor_id: int | None = None
    subsystem_device_id: int | None = None
    revision: int | None = None
    kernel_driver: str | None = None
    #: the widest link device and slot can train to, and the link as it runs now (which drops
    #: at idle on many boards)
    max_link_generation: int | None = None
    max_link_width: int | None = None
    link_generation: int | None = None
    link_width: int | None = None


class MigInstance(_Record):
    """One MIG device (a GPU instance with a compute instance) of a partitioned GPU."""

    index: int
    uuid: str | None = None
    name: str | None = None
    memory_bytes: int | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None


class MigState(_Record):
    enabled: bool | None = None
    pending: bool | None = None
    instances: tuple[MigInstance, ...] = ()


class NvLink(_Record):
    link: int
    active: bool
    version: int | None = None


class GpuRecord(_Record):
    """One physical GPU as the agent knows it."""

    vendor: Vendor
    backend: str
    status: DeviceStatus = "ok"
    note: str | None = None
    index: int | None = None
    uuid: str | None = None
    serial: str | None = None
    board_part_number: str | None = None
    name: str | None = None
    model_id: str = "unknown"
    architecture: str | None = None
    compute_capability: str | None = None
    memory_bytes: int | None = None
    pci: PciInfo = Field(default_factory=PciInfo)
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    rocm_version: str | None = None
    vbios_version: str | None = None
    power_limit_watts: float | None = None
    max_sm_clock_mhz: int | None = None
    max_memory_clock_mhz: int | None = None
    ecc_enabled: bool | None = None
    mig: MigState = Field(default_factory=MigState)
    nvlinks: tuple[NvLink, ...] = ()

    @property
    def slot(self) -> str:
        """Where the device sits: its PCI bus id, else its vendor index."""
        if self.pci.bus_id:
            return self.pci.bus_id
        return f"{self.vendor}:{self.index}"


class BackendReport(_Record):
    """What one backend did: whether its library answered, and why not."""

    backend: str
    available: bool
    reason: str | None = None
    devices: int = 0


class Inventory(_Record):
    """Every GPU of a host, with a report per backend."""

    hostname: str
    collected_at: float
    gpus: tuple[GpuRecord, ...] = ()
    backends: tuple[BackendReport, ...] = ()

    def by_slot(self) -> dict[str, GpuRecord]:
        return {gpu.slot: gpu for gpu in self.gpus}
