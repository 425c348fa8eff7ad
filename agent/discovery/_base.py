"""The interface every discovery backend implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from agent.discovery._models import BackendReport, GpuRecord
from depin.specs import lookup


class BackendUnavailable(Exception):
    """The backend's vendor library or tool is not usable on this host."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class BackendResult:
    report: BackendReport
    gpus: tuple[GpuRecord, ...] = field(default=())


class Backend(abc.ABC):
    """A source of GPU records. :meth:`run` never raises."""

    name: str = "backend"
    empty_reason: str = "the library answered and lists no device"

    @abc.abstractmethod
    def probe(self) -> list[GpuRecord]:
        """Find the devices; raise :class:`BackendUnavailable` when the library is missing."""

    def run(self) -> BackendResult:
        try:
            gpus = tuple(self.probe())
        except BackendUnavailable as exc:
            return BackendResult(
                BackendReport(backend=self.name, available=False, reason=exc.reason)
            )
        except Exception as exc:  # a vendor library must never take the agent down
            failure = f"{type(exc).__name__}: {exc}"
            return BackendResult(BackendReport(backend=self.name, available=False, reason=failure))
        empty = None if gpus else self.empty_reason
        return BackendResult(
            BackendReport(backend=self.name, available=True, reason=empty, devices=len(gpus)),
            gpus,
        )


def model_id_for(vendor_id: int | None, device_id: int | None, memory_bytes: int | None) -> str:
    """The spec table's model id for these primary ids, or ``unknown``."""
    if vendor_id is None or device_id is None:
        return "unknown"
    spec = lookup(vendor_id, device_id, memory_bytes)
    return spec.model_id if spec else "unknown"


def text(value: object) -> str | None:
    """A vendor string as ``str`` (libraries return ``bytes`` or ``str``), ``None`` if empty."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    out = str(value).strip().strip("\x00").strip()
    return out or None


def number(value: object) -> int | None:
    """A vendor id or count as ``int``: tools give ints, or decimal or ``0x`` strings depending on
    their version; ``None`` if empty, ``N/A`` or not a number."""
    if value is None or value == "N/A" or value == "":
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return None
