"""The host's capability document (:mod:`depin.capabilities`) from what discovery found.

Only what an unchanged host reports the same way twice goes in: the widest PCIe link rather than
the current one (which drops at idle), memory and free disk in whole GiB, container runtimes as
the binaries on ``PATH``. Two runs on an unchanged host give the same bytes and hash.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agent.discovery import GpuRecord
from depin.capabilities import (
    CapabilityDocument,
    ContainerRuntime,
    GpuCapabilities,
    HostCapabilities,
    MigInstanceCapabilities,
    NvlinkCapabilities,
    PcieCapabilities,
)
from depin.crypto import to_hex

__all__ = ["AttestedGpu", "HostProbe", "build_document", "gpu_capabilities"]

GIB = 1 << 30

#: The binaries whose presence says a GPU container runtime is installed.
RUNTIME_BINARIES: dict[ContainerRuntime, tuple[str, ...]] = {
    "docker": ("docker",),
    "nvidia-container-toolkit": ("nvidia-ctk", "nvidia-container-toolkit"),
    "podman": ("podman",),
}


class AttestedGpu(Protocol):
    """What the document needs of a GPU the agent attests (the daemon's ``GpuClaim``)."""

    @property
    def record(self) -> GpuRecord: ...
    @property
    def key(self) -> bytes: ...
    @property
    def model_id(self) -> str: ...
    @property
    def memory_bytes(self) -> int: ...


def _bounded(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())[:200]
    return value or None


def gpu_capabilities(gpu: AttestedGpu) -> GpuCapabilities:
    """One GPU's entry: discovery's record, under the key, model and memory it is attested as."""
    record = gpu.record
    links = None
    if record.nvlinks:
        versions = [link.version for link in record.nvlinks if link.version is not None]
        links = NvlinkCapabilities(
            kind="nvlink",
            links=len(record.nvlinks),
            active_links=sum(1 for link in record.nvlinks if link.active),
            version=max(versions) if versions else None,
        )
    return GpuCapabilities(
        slot=record.slot,
        gpu_key=to_hex(gpu.key),
        vendor=record.vendor,
        model=gpu.model_id,
        name=_bounded(record.name),
        memory_bytes=gpu.memory_bytes,
        driver_version=_bounded(record.driver_version),
        cuda_version=_bounded(record.cuda_driver_version),
        rocm_version=_bounded(record.rocm_version),
        compute_capability=_bounded(record.compute_capability),
        architecture=_bounded(record.architecture),
        vbios_version=_bounded(record.vbios_version),
        pcie=PcieCapabilities(
            generation=record.pci.max_link_generation, width=record.pci.max_link_width
        ),
        links=links,
        mig_enabled=record.mig.enabled,
        mig_instances=[
            MigInstanceCapabilities(
                index=m.index, name=_bounded(m.name), memory_bytes=m.memory_bytes
            )
            for m in sorted(record.mig.instances, key=lambda m: m.index)
        ],
        ecc_enabled=record.ecc_enabled,
        power_limit_watts=(
            round(record.power_limit_watts) if record.power_limit_watts is not None else None
        ),
        max_sm_clock_mhz=record.max_sm_clock_mhz,
        max_memory_clock_mhz=record.max_memory_clock_mhz,
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _disk_free(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


@dataclass(frozen=True)
class HostProbe:
    """Reads the host around the GPUs from ``/proc``, ``/etc/os-release``, the disk that holds
    ``disk_path`` and ``PATH``; each part is ``None`` where the host does not say.

    Args:
        root: the filesystem root (a fake tree in tests).
        disk_path: where workloads write; its free space is reported.
        which: finds a binary on ``PATH`` (``shutil.which``).
        disk_free: free bytes of a path (``shutil.disk_usage``).
    """

    root: Path = Path("/")
    disk_path: Path = Path("/")
    which: Callable[[str], str | None] = shutil.which
    disk_free: Callable[[Path], int | None] = field(default=_disk_free)

    def cpu(self) -> tuple[str | None, int | None]:
        """The CPU model and the number of logical CPUs, from ``/proc/cpuinfo``."""
        text = _read(self.root / "proc" / "cpuinfo")
        if text is None:
            return None, None
        models = re.findall(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        processors = re.findall(r"^processor\s*:", text, re.MULTILINE)
        return (_bounded(models[0]) if models else None), (len(processors) or None)

    def ram_gib(self) -> int | None:
        text = _read(self.root / "proc" / "meminfo")
        found = re.search(r"^MemTotal:\s*(\d+)\s*kB", text or "", re.MULTILINE)
        return int(found.group(1)) * 1024 // GIB if found else None

    def os_name(self) -> str | None:
        text = _read(self.root / "etc" / "os-release") or ""
        found = re.search(r'^PRETTY_NAME=(?:"([^"]*)"|(.*))$', text, re.MULTILINE)
        return _bounded(found.group(1) or found.group(2)) if found else None

    def kernel(self) -> str | None:
        return _bounded(_read(self.root / "proc" / "sys" / "kernel" / "osrelease"))

    def runtimes(self) -> list[ContainerRuntime]:
        return sorted(
            name
            for name, binaries in RUNTIME_BINARIES.items()
            if any(self.which(binary) for binary in binaries)
        )

    def host(self) -> HostCapabilities:
        model, cores = self.cpu()
        free = self.disk_free(self.disk_path)
        return HostCapabilities(
            cpu_model=model,
            cpu_cores=cores,
            ram_gib=self.ram_gib(),
            disk_free_gib=free // GIB if free is not None else None,
            os=self.os_name(),
            kernel=self.kernel(),
            container_runtimes=self.runtimes(),
        )


def build_document(gpus: Iterable[AttestedGpu], host: HostCapabilities) -> CapabilityDocument:
    """The host's document: each attested GPU by slot, and the host."""
    entries = sorted((gpu_capabilities(g) for g in gpus), key=lambda g: g.slot)
    return CapabilityDocument(host=host, gpus=entries)
