"""Hardware change detection: what changed between two inventories, and a loop that watches.

The attestation daemon subscribes here to re-attest when hardware changes::

    watcher = Watcher()
    for event in watcher.events():          # blocks; yields ChangeEvent as they happen
        ...
    # or: watcher.subscribe(callback); watcher.run(stop=threading.Event())

NVML's event API (XID errors, double-bit ECC errors, a GPU falling off the bus) wakes the loop
at once where the library offers it; otherwise the loop polls.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from agent.discovery import GpuRecord, Inventory, discover

ChangeKind = Literal[
    "gpu_added",
    "gpu_removed",
    "gpu_replaced",
    "memory_changed",
    "mig_changed",
    "driver_changed",
    "status_changed",
    "xid_error",
]


class ChangeEvent(BaseModel):
    """One change to a host's GPUs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChangeKind
    slot: str
    detail: str
    old: GpuRecord | None = None
    new: GpuRecord | None = None
    uuid: str | None = None
    xid: int | None = None

    @property
    def needs_reattestation(self) -> bool:
        return self.kind != "xid_error" or self.xid in FATAL_XIDS


# XIDs after which the device's identity or health must be re-proven (NVIDIA XID catalogue):
# 48 double-bit ECC, 63/64 row remapping, 74 NVLink, 79 fallen off the bus, 94/95 contained/
# uncontained ECC, 119/120 GSP errors.
FATAL_XIDS = frozenset({48, 63, 64, 74, 79, 94, 95, 119, 120})


def _mig_signature(gpu: GpuRecord) -> tuple[Any, ...]:
    return (
        gpu.mig.enabled,
        tuple((m.uuid, m.name, m.memory_bytes) for m in gpu.mig.instances),
    )


def diff(old: Inventory, new: Inventory) -> list[ChangeEvent]:
    """Every change from ``old`` to ``new``, matching GPUs by slot (PCI bus id).

    A different UUID in the same slot is a replacement (and nothing else is reported for it);
    otherwise memory, MIG layout, driver version and status are compared.
    """
    before, after = old.by_slot(), new.by_slot()
    events: list[ChangeEvent] = []
    for slot in sorted(before.keys() | after.keys()):
        a, b = before.get(slot), after.get(slot)
        if a is None or b is None:
            gpu = a if b is None else b
            assert gpu is not None
            events.append(
                ChangeEvent(
                    kind="gpu_added" if a is None else "gpu_removed",
                    slot=slot,
                    old=a,
                    new=b,
                    uuid=gpu.uuid,
                    detail=f"{gpu.name or gpu.model_id} "
                    f"{'appeared in' if a is None else 'left'} {slot}",
                )
            )
            continue
        if a.uuid and b.uuid and a.uuid != b.uuid:
            events.append(
                ChangeEvent(
                    kind="gpu_replaced",
                    slot=slot,
                    old=a,
                    new=b,
                    uuid=b.uuid,
                    detail=f"{slot}: {a.uuid} replaced by {b.uuid}",
                )
            )
            continue
        events.extend(_field_changes(slot, a, b))
    return events


def _field_changes(slot: str, a: GpuRecord, b: GpuRecord) -> list[ChangeEvent]:
    """Changes to one GPU that stayed in its slot."""
    found: list[tuple[ChangeKind, str]] = []
    if a.memory_bytes != b.memory_bytes:
        found.append(("memory_changed", f"memory {a.memory_bytes} -> {b.memory_bytes} bytes"))
    if _mig_signature(a) != _mig_signature(b):
        found.append(
            (
                "mig_changed",
                f"MIG {_on(a.mig.enabled)} ({len(a.mig.instances)} instances) -> "
                f"{_on(b.mig.enabled)} ({len(b.mig.instances)} instances)",
            )
        )
    drivers_a = (a.driver_version, a.cuda_driver_version, a.rocm_version)
    drivers_b = (b.driver_version, b.cuda_driver_version, b.rocm_version)
    if drivers_a != drivers_b:
        found.append(("driver_changed", f"driver {a.driver_version} -> {b.driver_version}"))
    if a.status != b.status:
        found.append(("status_changed", f"status {a.status} -> {b.status}"))
    uuid = b.uuid or a.uuid
    return [
        ChangeEvent(kind=kind, slot=slot, old=a, new=b, uuid=uuid, detail=detail)
        for kind, detail in found
    ]


def _on(flag: bool | None) -> str:
    return {True: "on", False: "off", None: "n/a"}[flag]


class Waiter(Protocol):
    """Blocks up to ``timeout_s`` and returns the hardware events seen meanwhile."""

    def wait(self, timeout_s: float) -> list[ChangeEvent]: ...

    def close(self) -> None: ...


class SleepWaiter:
    """Polling: sleeps for the interval (or until ``stop`` is set)."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self._stop = stop or threading.Event()

    def wait(self, timeout_s: float) -> list[ChangeEvent]:
        self._stop.wait(timeout_s)
        return []

    def close(self) -> None:
        return None


NVML_EVENT_XID = 0x8
NVML_EVENT_DOUBLE_BIT_ECC = 0x2
NVML_EVENT_GPU_UNAVAILABLE = 0x4000
NVML_ERROR_TIMEOUT = 10


class NvmlEventWaiter:
    """Waits on NVML's event set for XID, double-bit ECC and GPU-unavailable events.

    Raises any NVML error from :meth:`open` (use :func:`make_waiter` to fall back to polling).
    """

    def __init__(self, nvml: Any = None) -> None:
        if nvml is None:
            import pynvml

            nvml = pynvml
        self._nvml = nvml
        self._set: Any = None

    def open(self) -> NvmlEventWaiter:
        nvml = self._nvml
        nvml.nvmlInit()
        self._set = nvml.nvmlEventSetCreate()
        registered = 0
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            mask = NVML_EVENT_XID | NVML_EVENT_DOUBLE_BIT_ECC | NVML_EVENT_GPU_UNAVAILABLE
            try:
                nvml.nvmlDeviceRegisterEvents(handle, mask, self._set)
                registered += 1
            except nvml.NVMLError:
                continue  # NOT_SUPPORTED on some boards: those are polled only
        if registered == 0:
            self.close()
            raise RuntimeError("no GPU accepts NVML event registration")
        return self

    def wait(self, timeout_s: float) -> list[ChangeEvent]:
        nvml = self._nvml
        try:
            data = nvml.nvmlEventSetWait_v2(self._set, int(timeout_s * 1000))
        except nvml.NVMLError as exc:
            if getattr(exc, "value", None) == NVML_ERROR_TIMEOUT:
                return []
            raise
        uuid: str | None = None
        with contextlib.suppress(nvml.NVMLError):  # the event's handle is a fresh pointer
            uuid = str(nvml.nvmlDeviceGetUUID(data.device))
        kind = int(data.eventType)
        if kind == NVML_EVENT_XID:
            xid = int(data.eventData)
            detail = f"XID {xid} on {uuid or 'a GPU'}"
        elif kind == NVML_EVENT_DOUBLE_BIT_ECC:
            xid, detail = 48, f"double-bit ECC error on {uuid or 'a GPU'}"
        else:
            xid, detail = 79, f"GPU {uuid or ''} became unavailable"
        return [
            ChangeEvent(kind="xid_error", slot=uuid or "unknown", uuid=uuid, xid=xid, detail=detail)
        ]

    def close(self) -> None:
        if self._set is not None:
            with contextlib.suppress(Exception):
                self._nvml.nvmlEventSetFree(self._set)
            self._set = None
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()


def make_waiter(stop: threading.Event | None = None, nvml: Any = None) -> Waiter:
    """NVML events where the library offers them, polling otherwise."""
    try:
        return NvmlEventWaiter(nvml).open()
    except Exception:
        return SleepWaiter(stop)


class Watcher:
    """Re-discovers the host's GPUs on each wake-up and reports what changed.

    Args:
        collect: takes an inventory (default :func:`agent.discovery.discover`).
        interval_s: longest time between two inventories.
        waiter: what the loop blocks on between inventories (default: :func:`make_waiter`).
    """

    def __init__(
        self,
        collect: Callable[[], Inventory] = discover,
        *,
        interval_s: float = 30.0,
        waiter: Waiter | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._collect = collect
        self.interval_s = interval_s
        self.stop = stop or threading.Event()
        self._waiter = waiter
        self._callbacks: list[Callable[[ChangeEvent], None]] = []
        self.snapshot: Inventory | None = None

    def subscribe(self, callback: Callable[[ChangeEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with every event from :meth:`run`; returns an unsubscribe."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def events(self, *, max_polls: int | None = None) -> Iterator[ChangeEvent]:
        """Take a first inventory, then yield each change as it is seen.

        Stops when :attr:`stop` is set or after ``max_polls`` inventories after the first.
        """
        waiter = self._waiter or make_waiter(self.stop)
        try:
            self.snapshot = self._collect()
            polls = 0
            while not self.stop.is_set() and (max_polls is None or polls < max_polls):
                started = time.monotonic()
                hardware = waiter.wait(self.interval_s)
                if self.stop.is_set():
                    return
                current = self._collect()
                polls += 1
                changes = hardware + diff(self.snapshot, current)
                self.snapshot = current
                yield from changes
                if not hardware and not changes:
                    continue
                # an event storm must not spin: keep at least a tenth of the interval
                rest = self.interval_s / 10 - (time.monotonic() - started)
                if rest > 0:
                    self.stop.wait(rest)
        finally:
            waiter.close()

    def run(self, *, max_polls: int | None = None) -> None:
        """Deliver every event to the subscribers until stopped."""
        for event in self.events(max_polls=max_polls):
            for callback in list(self._callbacks):
                callback(event)
