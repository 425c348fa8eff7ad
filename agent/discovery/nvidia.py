"""NVIDIA GPUs through NVML (the ``pynvml`` module of ``nvidia-ml-py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from agent.discovery._base import Backend, BackendUnavailable, model_id_for, text
from agent.discovery._models import (
    GpuRecord,
    MigInstance,
    MigState,
    NvLink,
    PciInfo,
    normalize_bus_id,
)

ARCHITECTURES: dict[int, str] = {
    2: "kepler",
    3: "maxwell",
    4: "pascal",
    5: "volta",
    6: "turing",
    7: "ampere",
    8: "ada",
    9: "hopper",
    10: "blackwell",
    13: "rubin",
}

NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
MAX_NVLINKS = 36
MAX_MIG_DEVICES = 7


def _import_pynvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BackendUnavailable(f"pynvml is not installed: {exc}") from exc
    return pynvml


def cuda_version(value: int | None) -> str | None:
    """NVML's CUDA driver version integer (``12040``) as ``12.4``."""
    if not value:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


class NvmlBackend(Backend):
    """Reads every NVIDIA GPU NVML can see.

    Args:
        nvml: the ``pynvml`` module, or a stand-in with the same functions (a replay of a
            recording in tests, a :class:`~agent.discovery.recording.Recorder` when recording).
    """

    name = "nvml"
    empty_reason = "NVML is loaded and counts no GPU"

    def __init__(self, nvml: Any = None) -> None:
        self._nvml_given = nvml

    def _module(self) -> Any:
        return self._nvml_given if self._nvml_given is not None else _import_pynvml()

    def probe(self) -> list[GpuRecord]:
        nvml = self._module()
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise BackendUnavailable(f"NVML: {exc}") from exc
        try:
            return self._devices(nvml)
        finally:
            with contextlib.suppress(Exception):  # shutting down is best effort
                nvml.nvmlShutdown()

    def _devices(self, nvml: Any) -> list[GpuRecord]:
        def opt(fn: Callable[..., Any], *args: Any) -> Any:
            try:
                return fn(*args)
            except nvml.NVMLError:
                return None

        driver = text(opt(nvml.nvmlSystemGetDriverVersion))
        cuda = cuda_version(opt(nvml.nvmlSystemGetCudaDriverVersion_v2))
        count = nvml.nvmlDeviceGetCount()
        gpus: list[GpuRecord] = []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
            except nvml.NVMLError as exc:
                gpus.append(
                    GpuRecord(
                        vendor="nvidia",
                        backend=self.name,
                        status="error",
                        index=index,
                        note=f"NVML cannot open device {index}: {exc}",
                        driver_version=driver,
                        cuda_driver_version=cuda,
                    )
                )
                continue
            gpus.append(self._device(nvml, opt, index, handle, driver, cuda))
        return gpus

    def _device(
        self,
        nvml: Any,
        opt: Callable[..., Any],
        index: int,
        handle: Any,
        driver: str | None,
        cuda: str | None,
    ) -> GpuRecord:
        pci = self._pci(opt(nvml.nvmlDeviceGetPciInfo_v3, handle)).model_copy(
            update={
                "max_link_generation": opt(nvml.nvmlDeviceGetMaxPcieLinkGeneration, handle),
                "max_link_width": opt(nvml.nvmlDeviceGetMaxPcieLinkWidth, handle),
                "link_generation": opt(nvml.nvmlDeviceGetCurrPcieLinkGeneration, handle),
                "link_width": opt(nvml.nvmlDeviceGetCurrPcieLinkWidth, handle),
            }
        )
        memory = opt(nvml.nvmlDeviceGetMemoryInfo, handle)
        memory_bytes = int(memory.total) if memory is not None else None
        cc = opt(nvml.nvmlDeviceGetCudaComputeCapability, handle)
        arch = opt(nvml.nvmlDeviceGetArchitecture, handle)
        power_mw = opt(nvml.nvmlDeviceGetPowerManagementLimit, handle)
        ecc = opt(nvml.nvmlDeviceGetEccMode, handle)
        return GpuRecord(
            vendor="nvidia",
            backend=self.name,
            index=index,
            uuid=text(opt(nvml.nvmlDeviceGetUUID, handle)),
            serial=text(opt(nvml.nvmlDeviceGetSerial, handle)),
            board_part_number=text(opt(nvml.nvmlDeviceGetBoardPartNumber, handle)),
            name=text(opt(nvml.nvmlDeviceGetName, handle)),
            model_id=model_id_for(pci.vendor_id, pci.device_id, memory_bytes),
            architecture=ARCHITECTURES.get(arch, f"unknown({arch})") if arch is not None else None,
            compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
            memory_bytes=memory_bytes,
            pci=pci,
            driver_version=driver,
            cuda_driver_version=cuda,
            vbios_version=text(opt(nvml.nvmlDeviceGetVbiosVersion, handle)),
            power_limit_watts=power_mw / 1000 if power_mw is not None else None,
            max_sm_clock_mhz=opt(nvml.nvmlDeviceGetMaxClockInfo, handle, NVML_CLOCK_SM),
            max_memory_clock_mhz=opt(nvml.nvmlDeviceGetMaxClockInfo, handle, NVML_CLOCK_MEM),
            ecc_enabled=bool(ecc[0]) if ecc else None,
            mig=self._mig(nvml, opt, handle),
            nvlinks=self._nvlinks(nvml, handle),
        )

    @staticmethod
    def _pci(info: Any) -> PciInfo:
        if info is None:
            return PciInfo()
        device_word = int(info.pciDeviceId)
        subsystem_word = int(info.pciSubSystemId)
        bus_id = text(info.busId) or text(getattr(info, "busIdLegacy", None))
        return PciInfo(
            bus_id=normalize_bus_id(bus_id) if bus_id else None,
            vendor_id=device_word & 0xFFFF,
            device_id=device_word >> 16,
            subsystem_vendor_id=subsystem_word & 0xFFFF,
            subsystem_device_id=subsystem_word >> 16,
        )

    @staticmethod
    def _mig(nvml: Any, opt: Callable[..., Any], handle: Any) -> MigState:
        mode = opt(nvml.nvmlDeviceGetMigMode, handle)
        if mode is None:
            return MigState()
        enabled, pending = bool(mode[0]), bool(mode[1])
        instances: list[MigInstance] = []
        if enabled:
            slots = opt(nvml.nvmlDeviceGetMaxMigDeviceCount, handle) or MAX_MIG_DEVICES
            for slot in range(slots):
                mig = opt(nvml.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
                if mig is None:
                    continue
                mem = opt(nvml.nvmlDeviceGetMemoryInfo, mig)
                instances.append(
                    MigInstance(
                        index=slot,
                        uuid=text(opt(nvml.nvmlDeviceGetUUID, mig)),
                        name=text(opt(nvml.nvmlDeviceGetName, mig)),
                        memory_bytes=int(mem.total) if mem is not None else None,
                        gpu_instance_id=opt(nvml.nvmlDeviceGetGpuInstanceId, mig),
                        compute_instance_id=opt(nvml.nvmlDeviceGetComputeInstanceId, mig),
                    )
                )
        return MigState(enabled=enabled, pending=pending, instances=tuple(instances))

    @staticmethod
    def _nvlinks(nvml: Any, handle: Any) -> tuple[NvLink, ...]:
        links: list[NvLink] = []
        for link in range(MAX_NVLINKS):
            try:
                state = nvml.nvmlDeviceGetNvLinkState(handle, link)
            except nvml.NVMLError:
                break  # NOT_SUPPORTED on a GPU without NVLink, INVALID_ARGUMENT past the last
            try:
                version = int(nvml.nvmlDeviceGetNvLinkVersion(handle, link))
            except nvml.NVMLError:
                version = None
            links.append(NvLink(link=link, active=bool(state), version=version))
        return tuple(links)
