"""Display and 3D controllers read from Linux PCI sysfs, with no vendor library at all.

This is what lets the agent say "an NVIDIA device is present but NVML is not usable" instead
of reporting nothing on a host whose driver or library is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.discovery._base import Backend, BackendUnavailable, model_id_for, text
from agent.discovery._models import GpuRecord, PciInfo, normalize_bus_id, vendor_of
from depin.specs import PCI_VENDORS

PCI_DEVICES = Path("sys/bus/pci/devices")
DISPLAY_CLASS = 0x03  # base class: display controller (VGA 0x0300, XGA 0x0301, 3D 0x0302, ...)
GPU_VENDORS = frozenset(PCI_VENDORS)


@dataclass(frozen=True)
class PciFunction:
    bus_id: str
    class_code: int
    vendor_id: int
    device_id: int
    subsystem_vendor_id: int | None
    subsystem_device_id: int | None
    revision: int | None
    driver: str | None


def _read_hex(path: Path) -> int | None:
    try:
        return int(path.read_text().strip(), 16)
    except (OSError, ValueError):
        return None


def scan(root: Path = Path("/")) -> list[PciFunction]:
    """Every PCI function of display class under ``root``/sys/bus/pci/devices."""
    base = root / PCI_DEVICES
    if not base.is_dir():
        raise BackendUnavailable(f"{base} does not exist (not Linux, or sysfs not mounted)")
    found: list[PciFunction] = []
    for device in sorted(base.iterdir()):
        class_code = _read_hex(device / "class")
        if class_code is None or class_code >> 16 != DISPLAY_CLASS:
            continue
        vendor_id = _read_hex(device / "vendor")
        device_id = _read_hex(device / "device")
        if vendor_id is None or device_id is None:
            continue
        driver_link = device / "driver"
        driver = driver_link.resolve().name if driver_link.exists() else None
        found.append(
            PciFunction(
                bus_id=normalize_bus_id(device.name),
                class_code=class_code,
                vendor_id=vendor_id,
                device_id=device_id,
                subsystem_vendor_id=_read_hex(device / "subsystem_vendor"),
                subsystem_device_id=_read_hex(device / "subsystem_device"),
                revision=_read_hex(device / "revision"),
                driver=driver,
            )
        )
    return found


def _is_gpu(fn: PciFunction) -> bool:
    """A GPU vendor's display function, or any vendor's 3D controller.

    Server BMC VGA chips (ASPEED, Matrox) are display class 0x0300 too; they are not GPUs.
    The vendor is the primary vendor id, never the subsystem vendor.
    """
    return fn.vendor_id in GPU_VENDORS or (fn.class_code >> 8) == 0x0302


class SysfsBackend(Backend):
    """Lists GPUs from PCI sysfs; the orchestrator drops those a vendor backend already found.

    Args:
        root: the filesystem root holding ``sys/`` (a temporary tree in tests).
        reasons: per vendor, why its library gave nothing (shown on each device found).
    """

    name = "sysfs"
    empty_reason = "no display or 3D controller of a GPU vendor on the PCI bus"

    def __init__(self, root: Path = Path("/"), reasons: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.reasons = dict(reasons or {})

    def probe(self) -> list[GpuRecord]:
        gpus: list[GpuRecord] = []
        for fn in scan(self.root):
            if not _is_gpu(fn):
                continue
            vendor = vendor_of(fn.vendor_id)
            reason = self.reasons.get(vendor, "no vendor backend for this device")
            driver = f"kernel driver {fn.driver}" if fn.driver else "no kernel driver bound"
            gpus.append(
                GpuRecord(
                    vendor=vendor,
                    backend=self.name,
                    status="library_unavailable",
                    note=f"present, vendor library unavailable: {reason} ({driver})",
                    model_id=model_id_for(fn.vendor_id, fn.device_id, None),
                    pci=PciInfo(
                        bus_id=fn.bus_id,
                        vendor_id=fn.vendor_id,
                        device_id=fn.device_id,
                        subsystem_vendor_id=fn.subsystem_vendor_id,
                        subsystem_device_id=fn.subsystem_device_id,
                        revision=fn.revision,
                        kernel_driver=text(fn.driver),
                    ),
                )
            )
        return gpus
