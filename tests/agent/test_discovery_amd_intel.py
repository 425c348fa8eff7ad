"""amdsmi and xpu-smi backends, replayed from recorded library calls and command output."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest
from replayed import amdsmi, load_recording, mutate, xpusmi

from agent.discovery import AmdSmiBackend, XpuSmiBackend
from agent.discovery.recording import amdsmi_replay

MIB = 1 << 20


def test_mi300x_host() -> None:
    result = amdsmi("amdsmi_8x_mi300x").run()
    assert result.report.available and result.report.devices == 8
    gpu = result.gpus[0]
    assert gpu.vendor == "amd"
    assert gpu.model_id == "amd-instinct-mi300x-192gb"
    assert gpu.name == "AMD Instinct MI300X"
    assert (gpu.pci.vendor_id, gpu.pci.device_id) == (0x1002, 0x74A1)
    assert (gpu.pci.subsystem_vendor_id, gpu.pci.subsystem_device_id) == (0x1002, 0x74A1)
    assert gpu.pci.bus_id == "0000:0c:00.0"
    assert gpu.memory_bytes == 196592 * MIB
    assert gpu.board_part_number == "102-G30211-00"
    assert gpu.serial == "692251000000"
    assert gpu.driver_version == "6.7.0" and gpu.rocm_version == "6.2.0"
    assert gpu.architecture == "gfx942"
    assert gpu.vbios_version == "022.040.003.043.000001"
    assert (gpu.pci.max_link_generation, gpu.pci.max_link_width) == (5, 16)
    assert (gpu.pci.link_generation, gpu.pci.link_width) == (5, 16)
    assert len({g.uuid for g in result.gpus}) == 8


def test_amdsmi_ids_as_integers_are_read_too() -> None:
    """Older amdsmi releases give ids as ints instead of hex strings."""
    data = load_recording("amdsmi_8x_mi300x")
    asic = next(c for c in data["calls"] if c["fn"] == "amdsmi_get_gpu_asic_info")["ret"]
    data = mutate(
        data,
        "amdsmi_get_gpu_asic_info",
        [{"$handle": "amd0"}],
        ret={**asic, "vendor_id": 0x1002, "device_id": 0x74A1},
    )
    gpu = amdsmi(data).run().gpus[0]
    assert gpu.model_id == "amd-instinct-mi300x-192gb"


def test_amdsmi_without_driver_reports_reason() -> None:
    result = amdsmi("amdsmi_no_device").run()
    assert not result.report.available
    assert result.report.reason == "amdsmi: AMDSMI error code 40"


def test_amdsmi_not_installed_reports_reason() -> None:
    if importlib.util.find_spec("amdsmi") is not None:  # pragma: no cover - a ROCm host
        pytest.skip("amdsmi is importable here")
    result = AmdSmiBackend().run()
    assert not result.report.available
    assert result.report.reason is not None
    assert result.report.reason.startswith("amdsmi is not importable:")


def test_amdsmi_field_errors_become_none() -> None:
    data = mutate(
        load_recording("amdsmi_8x_mi300x"),
        "amdsmi_get_gpu_board_info",
        [{"$handle": "amd1"}],
        error={"class": "AmdSmiLibraryException", "code": 2},
    )
    gpus = AmdSmiBackend(amdsmi_replay(data)).run().gpus
    assert gpus[1].board_part_number is None
    assert gpus[1].serial == "0xD1C5F1E0A1B2C301"  # falls back to the ASIC serial
    assert gpus[0].board_part_number == "102-G30211-00"


def test_max1550_host_through_xpu_smi() -> None:
    result = xpusmi("xpusmi_4x_max1550").run()
    assert result.report.available and result.report.devices == 4
    gpu = result.gpus[0]
    assert gpu.vendor == "intel"
    assert gpu.model_id == "intel-max-1550-128gb"
    assert (gpu.pci.vendor_id, gpu.pci.device_id) == (0x8086, 0x0BD5)
    assert gpu.memory_bytes == 128 << 30
    assert gpu.serial == "LQAC24400000"
    assert gpu.ecc_enabled is True
    assert gpu.driver_version == "I915_23.10.54_PSB_231129.55"
    assert [g.pci.bus_id for g in result.gpus] == [
        "0000:29:00.0",
        "0000:3a:00.0",
        "0000:9a:00.0",
        "0000:ca:00.0",
    ]


def test_xpu_smi_with_no_device() -> None:
    result = xpusmi("xpusmi_no_device").run()
    assert result.report.available and result.gpus == ()


def test_xpu_smi_missing_from_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = XpuSmiBackend().run()
    assert not result.report.available
    assert result.report.reason == "xpu-smi not found on PATH"


def test_xpu_smi_garbage_output_is_a_reason() -> None:
    data: dict[str, Any] = load_recording("xpusmi_no_device")
    data["calls"][0]["ret"] = "Error: Level Zero initialization failed\n"
    result = xpusmi(data).run()
    assert not result.report.available
    assert result.report.reason is not None
    assert result.report.reason.startswith("xpu-smi discovery --json printed no JSON")


def test_xpu_smi_skips_non_gpu_entries() -> None:
    data: dict[str, Any] = load_recording("xpusmi_no_device")
    listing = {"device_list": [{"device_id": 0, "device_type": "NPU"}]}
    data["calls"][0]["ret"] = json.dumps(listing)
    assert xpusmi(data).run().gpus == ()
