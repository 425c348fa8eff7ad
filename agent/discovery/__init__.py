"""GPU discovery: vendor backends behind one interface, merged into one :class:`Inventory`.

Example:
    >>> from agent.discovery import discover
    >>> inventory = discover()          # never raises; each backend says why it found nothing
    >>> [gpu.model_id for gpu in inventory.gpus]
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from pathlib import Path

from agent.discovery._base import Backend, BackendResult, BackendUnavailable
from agent.discovery._models import (
    BackendReport,
    GpuRecord,
    Inventory,
    MigInstance,
    MigState,
    NvLink,
    PciInfo,
    normalize_bus_id,
    vendor_of,
)
from agent.discovery.amd import AmdSmiBackend
from agent.discovery.intel import XpuSmiBackend
from agent.discovery.nvidia import NvmlBackend
from agent.discovery.sysfs import SysfsBackend

__all__ = [
    "AmdSmiBackend",
    "Backend",
    "BackendReport",
    "BackendResult",
    "BackendUnavailable",
    "GpuRecord",
    "Inventory",
    "MigInstance",
    "MigState",
    "NvLink",
    "NvmlBackend",
    "PciInfo",
    "SysfsBackend",
    "XpuSmiBackend",
    "default_backends",
    "discover",
    "normalize_bus_id",
    "vendor_of",
]

_BACKEND_VENDOR = {"nvml": "nvidia", "amdsmi": "amd", "xpu-smi": "intel"}


def default_backends() -> list[Backend]:
    return [NvmlBackend(), AmdSmiBackend(), XpuSmiBackend()]


def discover(
    backends: Sequence[Backend] | None = None,
    *,
    sysfs_root: Path | None = Path("/"),
    hostname: str | None = None,
) -> Inventory:
    """Run every vendor backend, then the PCI sysfs fallback, and merge what they found.

    Never raises. A device seen by a vendor backend is reported once (de-duplicated by PCI bus
    id); a device seen only in sysfs is reported as present with the reason its vendor's
    library gave nothing.

    Args:
        backends: vendor backends to run (default: NVML, amdsmi, xpu-smi).
        sysfs_root: filesystem root for the sysfs fallback, or ``None`` to skip it.
        hostname: recorded in the inventory (default: this host's name).
    """
    results = [b.run() for b in (default_backends() if backends is None else backends)]
    gpus: list[GpuRecord] = [gpu for result in results for gpu in result.gpus]
    reports = [result.report for result in results]
    if sysfs_root is not None:
        reasons: dict[str, str] = {}
        for report in reports:
            vendor = _BACKEND_VENDOR.get(report.backend)
            if vendor is None:
                continue
            if report.available:
                reasons.setdefault(vendor, f"{report.backend} did not list this device")
            else:
                reasons[vendor] = f"{report.backend}: {report.reason}"
        fallback = SysfsBackend(sysfs_root, reasons).run()
        seen = {gpu.pci.bus_id for gpu in gpus if gpu.pci.bus_id}
        extra = tuple(gpu for gpu in fallback.gpus if gpu.pci.bus_id not in seen)
        report = fallback.report.model_copy(update={"devices": len(extra)})
        if report.available and fallback.gpus and not extra:
            report = report.model_copy(
                update={"reason": "every GPU on the PCI bus was listed by its vendor backend"}
            )
        reports.append(report)
        gpus.extend(extra)
    return Inventory(
        hostname=hostname or socket.gethostname(),
        collected_at=time.time(),
        gpus=tuple(gpus),
        backends=tuple(reports),
    )
