"""NVML backend, replayed from recorded NVML call sequences."""

from __future__ import annotations

from typing import Any

from replayed import load_recording, mutate, nvml

from agent.discovery import NvmlBackend
from agent.discovery.nvidia import cuda_version
from agent.discovery.recording import nvml_replay

GIB = 1 << 30


def test_eight_h100_sxm_mig_off() -> None:
    result = nvml("nvml_8x_h100_sxm").run()
    assert result.report.available and result.report.devices == 8
    gpus = result.gpus
    assert [g.index for g in gpus] == list(range(8))
    assert {g.model_id for g in gpus} == {"nvidia-h100-sxm5-80gb"}
    assert [g.pci.bus_id for g in gpus][:2] == ["0000:18:00.0", "0000:2a:00.0"]
    assert len({g.uuid for g in gpus}) == 8
    first = gpus[0]
    assert first.name == "NVIDIA H100 80GB HBM3"
    assert (first.pci.vendor_id, first.pci.device_id) == (0x10DE, 0x2330)
    assert (first.pci.subsystem_vendor_id, first.pci.subsystem_device_id) == (0x10DE, 0x16C1)
    assert first.serial == "1652420000000"
    assert first.board_part_number == "692-2G520-0200-000"
    assert first.architecture == "hopper" and first.compute_capability == "9.0"
    assert first.memory_bytes == 81559 * (1 << 20)
    assert first.driver_version == "550.54.15" and first.cuda_driver_version == "12.4"
    assert first.vbios_version == "96.00.74.00.1C"
    assert first.power_limit_watts == 700.0
    assert (first.max_sm_clock_mhz, first.max_memory_clock_mhz) == (1980, 2619)
    assert first.ecc_enabled is True
    assert first.mig.enabled is False and first.mig.instances == ()
    assert len(first.nvlinks) == 18
    assert all(link.active and link.version == 4 for link in first.nvlinks)
    assert (first.pci.max_link_generation, first.pci.max_link_width) == (5, 16)
    assert (first.pci.link_generation, first.pci.link_width) == (5, 16)


def test_every_recorded_call_is_made() -> None:
    """The backend asks NVML exactly what the recording holds: nothing unrecorded, nothing left."""
    data = load_recording("nvml_8x_h100_sxm")
    module = nvml_replay(data)
    NvmlBackend(module).run()
    assert set(module.calls) == {call["fn"] for call in data["calls"]}


def test_mig_enabled_lists_instances() -> None:
    gpus = nvml("nvml_2x_h100_mig").run().gpus
    assert [g.mig.enabled for g in gpus] == [True, True]
    small, large = gpus[0].mig.instances, gpus[1].mig.instances
    assert len(small) == 7 and len(large) == 2
    assert {m.name for m in small} == {"NVIDIA H100 80GB HBM3 MIG 1g.10gb"}
    assert [m.gpu_instance_id for m in large] == [1, 2]
    assert large[0].memory_bytes == 40448 * (1 << 20)
    assert all(m.uuid and m.uuid.startswith("MIG-") for m in small + large)


def test_a100_host() -> None:
    gpus = nvml("nvml_4x_a100_sxm4_80gb").run().gpus
    assert len(gpus) == 4
    assert {g.model_id for g in gpus} == {"nvidia-a100-sxm4-80gb"}
    assert gpus[0].architecture == "ampere" and gpus[0].compute_capability == "8.0"
    assert gpus[0].cuda_driver_version == "12.2"
    assert len(gpus[0].nvlinks) == 12 and gpus[0].nvlinks[0].version == 3


def test_consumer_board_matches_on_primary_ids_not_subsystem_vendor() -> None:
    (gpu,) = nvml("nvml_1x_rtx4090").run().gpus
    assert gpu.pci.subsystem_vendor_id == 0x1043  # an ASUS board
    assert gpu.vendor == "nvidia"
    assert gpu.model_id == "nvidia-rtx-4090-24gb"
    # GeForce answers NOT_SUPPORTED for these; they become None, not a failure
    assert gpu.serial is None and gpu.board_part_number is None
    assert gpu.ecc_enabled is None and gpu.mig.enabled is None
    assert gpu.nvlinks == ()
    assert gpu.architecture == "ada" and gpu.compute_capability == "8.9"


def test_unknown_device_id_is_reported_raw() -> None:
    (gpu,) = nvml("nvml_unknown_device").run().gpus
    assert gpu.model_id == "unknown"
    assert (gpu.pci.vendor_id, gpu.pci.device_id) == (0x10DE, 0x2BFF)
    assert gpu.architecture == "blackwell"
    assert gpu.status == "ok"


def test_library_missing_is_a_reason_not_a_crash() -> None:
    result = nvml("nvml_library_missing").run()
    assert not result.report.available
    assert result.report.reason == "NVML: NVML Shared Library Not Found"
    assert result.gpus == ()


def test_driver_not_loaded_reason() -> None:
    result = nvml("nvml_driver_not_loaded").run()
    assert result.report.reason == "NVML: Driver Not Loaded"


def test_a_lost_gpu_is_reported_with_its_error() -> None:
    data = mutate(load_recording("nvml_8x_h100_sxm"), "nvmlDeviceGetHandleByIndex", [3], error=15)
    result = nvml(data).run()
    assert result.report.available and len(result.gpus) == 8
    lost = result.gpus[3]
    assert lost.status == "error"
    assert lost.note == "NVML cannot open device 3: GPU is lost"
    assert all(g.status == "ok" for i, g in enumerate(result.gpus) if i != 3)


def test_an_unexpected_library_answer_never_escapes() -> None:
    data: dict[str, Any] = load_recording("nvml_8x_h100_sxm")
    data["calls"] = [c for c in data["calls"] if c["fn"] != "nvmlDeviceGetCount"]
    result = nvml(data).run()
    assert not result.report.available
    assert result.report.reason is not None
    assert result.report.reason.startswith("RecordingError: the recording has no answer for")


def test_cuda_version_format() -> None:
    assert cuda_version(12040) == "12.4"
    assert cuda_version(11080) == "11.8"
    assert cuda_version(None) is None


def test_pcie_link_reports_the_widest_link_beside_the_current_one() -> None:
    (desktop,) = nvml("nvml_1x_rtx4090").run().gpus
    assert (desktop.pci.max_link_generation, desktop.pci.max_link_width) == (4, 16)
    assert (desktop.pci.link_generation, desktop.pci.link_width) == (1, 16)  # idle


def test_pcie_link_left_unknown_where_nvml_does_not_report_it() -> None:
    (sample,) = nvml("nvml_unknown_device").run().gpus
    assert sample.pci.bus_id == "0000:41:00.0"
    assert (sample.pci.max_link_generation, sample.pci.max_link_width) == (None, None)
    assert (sample.pci.link_generation, sample.pci.link_width) == (None, None)
