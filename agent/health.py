"""Each GPU's availability and health, read from the vendor library for every heartbeat.

A GPU is **available** when no compute process holds it (other than this agent's own, which
runs the benchmarks and proofs). It is **healthy** when the library reports none of:

- an uncorrectable ECC error since the driver loaded (volatile counter);
- a page waiting for retirement, or a DRAM row waiting for remapping (or a failed remap);
- an XID error since the last reading (from NVML's event set, drained without blocking);
- clock slowdown for heat or a power brake: the hardware and software thermal slowdowns and
  the hardware power brake. The software power cap is not counted: a GPU under full load runs
  at its power limit by design.

What the library cannot answer (``NOT_SUPPORTED`` on a consumer board without ECC, say) counts
as no trouble. A GPU whose backend offers no probe at all (the PCI fallback) is reported
neither available nor healthy: the registry never claims what the agent could not check.

Every reading says why, so an operator (and the oracle's log) sees the cause of a status.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from depin.attestation import GpuStatus

log = logging.getLogger("depin.agent.health")

#: clock-event reasons that mean heat or a power emergency (NVML ``nvmlClocksEventReason*``)
THROTTLE_REASONS = {
    0x08: "hw_slowdown",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake",
}
#: how many pending events one reading takes from NVML's event set at most
MAX_EVENTS_PER_READ = 64
_NVML_XID_EVENTS = 0x0008 | 0x0002  # nvmlEventTypeXidCriticalError | DoubleBitEccError


@dataclass(frozen=True)
class GpuHealth:
    """One GPU's reading: its status bits and the reasons behind them."""

    uuid: str
    available: bool
    healthy: bool
    reasons: tuple[str, ...] = ()

    @property
    def status(self) -> GpuStatus:
        return (GpuStatus.AVAILABLE if self.available else GpuStatus.NONE) | (
            GpuStatus.HEALTHY if self.healthy else GpuStatus.NONE
        )


class HealthProbe(Protocol):
    """Reads the GPUs it can see among ``uuids`` (or all it sees), keyed by UUID. Never
    raises."""

    def read(self, uuids: Sequence[str] = ()) -> dict[str, GpuHealth]: ...

    def close(self) -> None: ...


def unchecked(uuid: str) -> GpuHealth:
    """The reading of a GPU no probe can see."""
    return GpuHealth(uuid, available=False, healthy=False, reasons=("not_checked",))


@dataclass
class NvmlHealthProbe:
    """Health through NVML (``pynvml``, or a replay of a recording with the same calls)."""

    nvml: Any = None
    own_pids: frozenset[int] = field(default_factory=lambda: frozenset({os.getpid()}))
    _events: Any = None
    _opened: bool = False

    def __post_init__(self) -> None:
        if self.nvml is None:
            import pynvml

            self.nvml = pynvml

    def open(self) -> NvmlHealthProbe:
        nvml = self.nvml
        nvml.nvmlInit()
        self._opened = True
        with contextlib.suppress(nvml.NVMLError):
            self._events = nvml.nvmlEventSetCreate()
            for handle in self._handles():
                with contextlib.suppress(nvml.NVMLError):
                    nvml.nvmlDeviceRegisterEvents(handle, _NVML_XID_EVENTS, self._events)
        return self

    def close(self) -> None:
        nvml = self.nvml
        if self._events is not None:
            with contextlib.suppress(nvml.NVMLError):
                nvml.nvmlEventSetFree(self._events)
            self._events = None
        if self._opened:
            with contextlib.suppress(nvml.NVMLError):
                nvml.nvmlShutdown()
            self._opened = False

    def _handles(self) -> Iterable[Any]:
        nvml = self.nvml
        for index in range(int(nvml.nvmlDeviceGetCount())):
            with contextlib.suppress(nvml.NVMLError):
                yield nvml.nvmlDeviceGetHandleByIndex(index)

    def _opt(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except self.nvml.NVMLError:
            return None

    def _xids(self) -> dict[str, set[int]]:
        """XIDs (and double-bit ECC errors, as XID 48) pending in the event set, by UUID."""
        nvml = self.nvml
        seen: dict[str, set[int]] = {}
        if self._events is None:
            return seen
        for _ in range(MAX_EVENTS_PER_READ):
            try:
                data = nvml.nvmlEventSetWait_v2(self._events, 0)
            except nvml.NVMLError:
                break  # NVML_ERROR_TIMEOUT: nothing more pending
            uuid = str(self._opt(nvml.nvmlDeviceGetUUID, data.device) or "")
            xid = int(data.eventData) if int(data.eventType) == 0x0008 else 48
            seen.setdefault(uuid, set()).add(xid)
        return seen

    def read(self, uuids: Sequence[str] = ()) -> dict[str, GpuHealth]:
        nvml = self.nvml
        try:
            if not self._opened:
                self.open()
            xids = self._xids()
            out: dict[str, GpuHealth] = {}
            for handle in self._handles():
                uuid = self._opt(nvml.nvmlDeviceGetUUID, handle)
                if uuid:
                    out[str(uuid)] = self._device(handle, str(uuid), xids.get(str(uuid), set()))
            return out
        except Exception as exc:  # a probe never takes the heartbeat down
            log.warning("NVML health reading failed: %s", exc)
            return {}

    def _device(self, handle: Any, uuid: str, xids: set[int]) -> GpuHealth:
        nvml = self.nvml
        reasons: list[str] = []
        processes = self._opt(nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
        others = sorted({int(p.pid) for p in processes} - self.own_pids)
        available = not others
        if others:
            reasons.append(f"busy:{len(others)}_processes")
        healthy = True
        uncorrected = self._opt(
            nvml.nvmlDeviceGetTotalEccErrors,
            handle,
            nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
            nvml.NVML_VOLATILE_ECC,
        )
        if uncorrected:
            healthy = False
            reasons.append(f"ecc_uncorrected:{int(uncorrected)}")
        if self._opt(nvml.nvmlDeviceGetRetiredPagesPendingStatus, handle) == 1:
            healthy = False
            reasons.append("retired_pages_pending")
        remapped = self._opt(nvml.nvmlDeviceGetRemappedRows, handle)
        if remapped is not None:
            _corrected, _uncorrected, pending, failed = (int(v) for v in remapped)
            if pending:
                healthy = False
                reasons.append("row_remap_pending")
            if failed:
                healthy = False
                reasons.append("row_remap_failed")
        for xid in sorted(xids):
            healthy = False
            reasons.append(f"xid:{xid}")
        throttle = self._opt(nvml.nvmlDeviceGetCurrentClocksEventReasons, handle)
        for bit, name in THROTTLE_REASONS.items():
            if throttle and int(throttle) & bit:
                healthy = False
                reasons.append(f"throttle:{name}")
        return GpuHealth(uuid, available, healthy, tuple(reasons))


class SimulatedHealth:
    """For replayed (simulated) GPUs with no health recording: each one reads as available and
    healthy, said as simulated. Their attestations are marked simulated on-chain anyway."""

    def read(self, uuids: Sequence[str] = ()) -> dict[str, GpuHealth]:
        return {
            u: GpuHealth(u, available=True, healthy=True, reasons=("simulated",)) for u in uuids
        }

    def close(self) -> None:
        pass


def statuses(probe: HealthProbe | None, uuids: Iterable[str]) -> dict[str, GpuHealth]:
    """A reading for each of ``uuids``: the probe's, or :func:`unchecked` where it has none."""
    uuids = list(uuids)
    readings = probe.read(uuids) if probe is not None else {}
    return {u: readings.get(u) or unchecked(u) for u in uuids}


def host_probe() -> HealthProbe | None:
    """The probe for this host's GPUs: NVML where it loads, else none (GPUs unchecked)."""
    try:
        return NvmlHealthProbe().open()
    except Exception as exc:  # no NVML: no NVIDIA GPU to read, or no driver
        log.info("no NVML health probe: %s", exc)
        return None


__all__ = [
    "THROTTLE_REASONS",
    "GpuHealth",
    "HealthProbe",
    "NvmlHealthProbe",
    "SimulatedHealth",
    "host_probe",
    "statuses",
    "unchecked",
]
