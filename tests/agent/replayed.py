"""Discovery of recorded hosts: each vendor backend answered by a replay of its recording."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from agent.discovery import AmdSmiBackend, Inventory, NvmlBackend, XpuSmiBackend, discover
from agent.discovery.recording import amdsmi_replay, command_replay, nvml_replay

FIXTURES = Path(__file__).parent.parent / "fixtures" / "discovery"


def load_recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def mutate(recording: dict[str, Any], fn: str, args: list[Any], **answer: Any) -> dict[str, Any]:
    """A copy of ``recording`` whose answer to ``fn(*args)`` is replaced (``ret=`` or ``error=``).

    Used to derive a second host state (a replaced board, a new driver) from a recorded one.
    """
    out = copy.deepcopy(recording)
    for call in out["calls"]:
        if call["fn"] == fn and call["args"] == args:
            call.pop("ret", None)
            call.pop("error", None)
            call.update(answer)
            return out
    raise AssertionError(f"{fn}{args} is not in the recording")


def nvml(name_or_data: str | dict[str, Any]) -> NvmlBackend:
    data = load_recording(name_or_data) if isinstance(name_or_data, str) else name_or_data
    return NvmlBackend(nvml_replay(data))


def amdsmi(name_or_data: str | dict[str, Any]) -> AmdSmiBackend:
    data = load_recording(name_or_data) if isinstance(name_or_data, str) else name_or_data
    return AmdSmiBackend(amdsmi_replay(data))


def xpusmi(name_or_data: str | dict[str, Any]) -> XpuSmiBackend:
    data = load_recording(name_or_data) if isinstance(name_or_data, str) else name_or_data
    return XpuSmiBackend(command_replay(data))


def host(
    *,
    nvml_rec: str | dict[str, Any] = "nvml_library_missing",
    amd_rec: str | dict[str, Any] = "amdsmi_no_device",
    xpu_rec: str | dict[str, Any] = "xpusmi_no_device",
    sysfs_root: Path | None = None,
) -> Inventory:
    """Discovery of a recorded host: every backend replayed, sysfs from a fake tree or none."""
    return discover(
        [nvml(nvml_rec), amdsmi(amd_rec), xpusmi(xpu_rec)],
        sysfs_root=sysfs_root,
        hostname="recorded",
    )
