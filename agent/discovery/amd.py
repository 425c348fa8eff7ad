"""AMD GPUs through ``amdsmi`` (ROCm's SMI library), imported only when used."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from agent.discovery._base import Backend, BackendUnavailable, model_id_for, number, text
from agent.discovery._models import GpuRecord, PciInfo, normalize_bus_id

MIB = 1 << 20


def _rocm_version(value: object) -> str | None:
    if isinstance(value, list | tuple):
        strings = [v for v in value if isinstance(v, str)]
        return strings[-1] if strings else None
    if isinstance(value, Mapping):
        return text(value.get("version"))
    return text(value)


#: PCIe transfer rate in MT/s (amdsmi's ``pcie_speed``) by generation
_PCIE_RATES = {2500: 1, 5000: 2, 8000: 3, 16000: 4, 32000: 5, 64000: 6}


def _generation(rate: int | None) -> int | None:
    return _PCIE_RATES.get(rate) if rate is not None else None


class AmdSmiBackend(Backend):
    """Reads every AMD GPU that amdsmi can see.

    Args:
        amdsmi: the ``amdsmi`` module or a stand-in (a replay); imported lazily by default, since
            it is not a dependency of the agent.
    """

    name = "amdsmi"
    empty_reason = "amdsmi is loaded and lists no GPU"

    def __init__(self, amdsmi: Any = None) -> None:
        self._given = amdsmi

    def _module(self) -> Any:
        if self._given is not None:
            return self._given
        try:
            return importlib.import_module("amdsmi")
        except Exception as exc:  # ImportError, or OSError when libamd_smi.so is missing
            raise BackendUnavailable(f"amdsmi is not importable: {exc}") from exc

    def probe(self) -> list[GpuRecord]:
        smi = self._module()
        error: type[BaseException] = getattr(smi, "AmdSmiException", Exception)
        try:
            smi.amdsmi_init()
        except error as exc:
            raise BackendUnavailable(f"amdsmi: {exc}") from exc
        try:
            return self._devices(smi, error)
        finally:
            with contextlib.suppress(Exception):  # shutting down is best effort
                smi.amdsmi_shut_down()

    def _devices(self, smi: Any, error: type[BaseException]) -> list[GpuRecord]:
        def opt(fn: Callable[..., Any] | None, *args: Any) -> Any:
            if fn is None:
                return None
            try:
                return fn(*args)
            except error:
                return None

        rocm = _rocm_version(opt(getattr(smi, "amdsmi_get_rocm_version", None)))
        gpus: list[GpuRecord] = []
        for index, handle in enumerate(smi.amdsmi_get_processor_handles()):
            asic: Mapping[str, Any] = opt(smi.amdsmi_get_gpu_asic_info, handle) or {}
            board: Mapping[str, Any] = opt(smi.amdsmi_get_gpu_board_info, handle) or {}
            vram: Mapping[str, Any] = opt(smi.amdsmi_get_gpu_vram_info, handle) or {}
            driver: Mapping[str, Any] = opt(smi.amdsmi_get_gpu_driver_info, handle) or {}
            vbios: Mapping[str, Any] = opt(smi.amdsmi_get_gpu_vbios_info, handle) or {}
            bdf = text(opt(smi.amdsmi_get_gpu_device_bdf, handle))
            pcie: Mapping[str, Any] = opt(getattr(smi, "amdsmi_get_pcie_info", None), handle) or {}
            link_max: Mapping[str, Any] = pcie.get("pcie_static") or {}
            link_now: Mapping[str, Any] = pcie.get("pcie_metric") or {}
            vram_mb = number(vram.get("vram_size", vram.get("vram_size_mb")))
            memory = vram_mb * MIB if vram_mb else None
            vendor_id = number(asic.get("vendor_id"))
            device_id = number(asic.get("device_id"))
            subsystem = number(asic.get("subsystem_id"))
            gpus.append(
                GpuRecord(
                    vendor="amd",
                    backend=self.name,
                    index=index,
                    uuid=text(opt(smi.amdsmi_get_gpu_device_uuid, handle)),
                    serial=text(board.get("product_serial")) or text(asic.get("asic_serial")),
                    board_part_number=text(board.get("model_number")),
                    name=text(asic.get("market_name")) or text(board.get("product_name")),
                    model_id=model_id_for(vendor_id, device_id, memory),
                    architecture=text(asic.get("target_graphics_version")),
                    memory_bytes=memory,
                    pci=PciInfo(
                        bus_id=normalize_bus_id(bdf) if bdf else None,
                        vendor_id=vendor_id,
                        device_id=device_id,
                        subsystem_vendor_id=number(asic.get("subvendor_id")),
                        subsystem_device_id=subsystem,
                        revision=number(asic.get("rev_id")),
                        max_link_generation=number(link_max.get("pcie_interface_version")),
                        max_link_width=number(link_max.get("max_pcie_width")),
                        link_generation=_generation(number(link_now.get("pcie_speed"))),
                        link_width=number(link_now.get("pcie_width")),
                    ),
                    driver_version=text(driver.get("driver_version")),
                    rocm_version=rocm,
                    vbios_version=text(vbios.get("version")),
                )
            )
        return gpus
