"""Intel GPUs through ``xpu-smi discovery --json`` (Intel XPU Manager's command line)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from typing import Any

from agent.discovery._base import Backend, BackendUnavailable, model_id_for, number, text
from agent.discovery._models import GpuRecord, PciInfo, normalize_bus_id

Runner = Callable[[list[str]], str]
TIMEOUT_S = 15.0


def run_command(argv: list[str]) -> str:
    """Run a command and return its stdout; a missing tool is :class:`BackendUnavailable`."""
    if shutil.which(argv[0]) is None:
        raise BackendUnavailable(f"{argv[0]} not found on PATH")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendUnavailable(f"{' '.join(argv)} failed: {exc}") from exc
    if done.returncode != 0:
        raise BackendUnavailable(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[:200]}"
        )
    return done.stdout


class XpuSmiBackend(Backend):
    """Reads Intel GPUs from ``xpu-smi discovery``'s JSON.

    Args:
        run: runs an argv and returns stdout (a replay of recorded output in tests).
    """

    name = "xpu-smi"
    empty_reason = "xpu-smi lists no Intel GPU"

    def __init__(self, run: Runner | None = None) -> None:
        self._run = run or run_command

    def _json(self, argv: list[str]) -> Any:
        out = self._run(argv)
        try:
            return json.loads(out)
        except ValueError as exc:
            raise BackendUnavailable(f"{' '.join(argv)} printed no JSON: {exc}") from exc

    def probe(self) -> list[GpuRecord]:
        listing = self._json(["xpu-smi", "discovery", "--json"])
        devices = listing.get("device_list", []) if isinstance(listing, Mapping) else []
        gpus: list[GpuRecord] = []
        for entry in devices:
            if str(entry.get("device_type", "GPU")).upper() != "GPU":
                continue
            device_index = number(entry.get("device_id"))
            detail: Mapping[str, Any] = entry
            if device_index is not None:
                more = self._json(["xpu-smi", "discovery", "-d", str(device_index), "--json"])
                if isinstance(more, Mapping):
                    detail = {**entry, **more}
            gpus.append(self._record(device_index, detail))
        return gpus

    def _record(self, index: int | None, d: Mapping[str, Any]) -> GpuRecord:
        vendor_id = number(d.get("pci_vendor_id")) or 0x8086
        device_id = number(d.get("pci_device_id"))
        memory = number(d.get("memory_physical_size_byte"))
        bdf = text(d.get("pci_bdf_address"))
        ecc = text(d.get("memory_ecc_state"))
        return GpuRecord(
            vendor="intel",
            backend=self.name,
            index=index,
            uuid=text(d.get("uuid")),
            serial=text(d.get("serial_number")),
            name=text(d.get("device_name")),
            model_id=model_id_for(vendor_id, device_id, memory),
            memory_bytes=memory,
            pci=PciInfo(
                bus_id=normalize_bus_id(bdf) if bdf else None,
                vendor_id=vendor_id,
                device_id=device_id,
            ),
            driver_version=text(d.get("driver_version")),
            vbios_version=text(d.get("gfx_firmware_version")),
            ecc_enabled=(ecc.lower() == "enabled") if ecc else None,
        )
