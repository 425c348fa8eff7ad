"""On a real GPU host only: discovery through the real library, and a recording of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.discovery import NvmlBackend, discover
from agent.discovery.record import record
from agent.discovery.recording import nvml_replay

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def nvml_host() -> None:
    if not NvmlBackend().run().report.available:
        pytest.skip("NVML is not usable on this host")


def test_real_nvml_discovery(nvml_host: None) -> None:
    inventory = discover(sysfs_root=Path("/"))
    nvidia = [g for g in inventory.gpus if g.backend == "nvml"]
    assert nvidia
    for gpu in nvidia:
        assert gpu.uuid and gpu.uuid.startswith("GPU-")
        assert gpu.pci.vendor_id == 0x10DE and gpu.pci.bus_id
        assert gpu.memory_bytes and gpu.memory_bytes > 1 << 30
    # sysfs sees the same boards and does not repeat them
    assert not [g for g in inventory.gpus if g.backend == "sysfs" and g.vendor == "nvidia"]


def test_recording_this_host_replays_identically(nvml_host: None) -> None:
    data, _ = record("nvml", source="test run on this host")
    live = NvmlBackend().run()
    replayed = NvmlBackend(nvml_replay(data)).run()
    assert replayed.gpus == live.gpus
