"""The PCI sysfs fallback and the merge of all backends into one inventory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from replayed import host

H100_PCIE_NO_DRIVER = {
    "bdf": "0000:3b:00.0",
    "class": "0x030200",
    "vendor": "0x10de",
    "device": "0x2331",
    "subsystem_vendor": "0x10de",
    "subsystem_device": "0x1626",
}
BMC_VGA = {  # ASPEED AST2600 on a server board: display class, not a GPU
    "bdf": "0000:02:00.0",
    "class": "0x030000",
    "vendor": "0x1a03",
    "device": "0x2000",
    "subsystem_vendor": "0x1a03",
    "subsystem_device": "0x2000",
    "driver": "ast",
}
VIRTIO_VGA_WITH_NVIDIA_SUBSYSTEM = {
    "bdf": "0000:00:02.0",
    "class": "0x030000",
    "vendor": "0x1af4",
    "device": "0x1050",
    "subsystem_vendor": "0x10de",
    "subsystem_device": "0x2330",
}
NVIDIA_AUDIO = {  # the HDMI audio function of a GPU: class 0x0403, not display
    "bdf": "0000:3b:00.1",
    "class": "0x040300",
    "vendor": "0x10de",
    "device": "0x22ba",
}


def test_nvidia_device_without_nvml_is_reported_present(make_sysfs: Callable[..., Path]) -> None:
    root = make_sysfs(H100_PCIE_NO_DRIVER, BMC_VGA, VIRTIO_VGA_WITH_NVIDIA_SUBSYSTEM, NVIDIA_AUDIO)
    inventory = host(sysfs_root=root)
    (gpu,) = inventory.gpus
    assert gpu.vendor == "nvidia" and gpu.backend == "sysfs"
    assert gpu.status == "library_unavailable"
    assert gpu.note == (
        "present, vendor library unavailable: nvml: NVML: NVML Shared Library Not Found "
        "(no kernel driver bound)"
    )
    assert gpu.model_id == "nvidia-h100-pcie-80gb"
    assert gpu.pci.bus_id == "0000:3b:00.0"
    assert (gpu.pci.subsystem_vendor_id, gpu.pci.subsystem_device_id) == (0x10DE, 0x1626)
    sysfs = inventory.backends[-1]
    assert sysfs.backend == "sysfs" and sysfs.available and sysfs.devices == 1


def test_bound_kernel_driver_is_named(make_sysfs: Callable[..., Path]) -> None:
    root = make_sysfs({**H100_PCIE_NO_DRIVER, "driver": "nvidia"})
    (gpu,) = host(nvml_rec="nvml_driver_not_loaded", sysfs_root=root).gpus
    assert gpu.pci.kernel_driver == "nvidia"
    assert gpu.note is not None and gpu.note.endswith(
        "NVML: Driver Not Loaded (kernel driver nvidia)"
    )


def test_subsystem_vendor_alone_never_makes_a_gpu(make_sysfs: Callable[..., Path]) -> None:
    root = make_sysfs(VIRTIO_VGA_WITH_NVIDIA_SUBSYSTEM, BMC_VGA)
    assert host(sysfs_root=root).gpus == ()


def test_vendor_backend_devices_are_not_repeated(make_sysfs: Callable[..., Path]) -> None:
    buses = ["18", "2a", "3a", "5d", "9a", "ab", "ba", "db"]
    same = [
        {
            "bdf": f"0000:{b}:00.0",
            "class": "0x030200",
            "vendor": "0x10de",
            "device": "0x2330",
            "driver": "nvidia",
        }
        for b in buses
    ]
    extra = {**H100_PCIE_NO_DRIVER, "bdf": "0000:c1:00.0"}
    inventory = host(nvml_rec="nvml_8x_h100_sxm", sysfs_root=make_sysfs(*same, extra))
    assert len(inventory.gpus) == 9
    assert [g.backend for g in inventory.gpus].count("nvml") == 8
    leftover = inventory.gpus[-1]
    assert leftover.pci.bus_id == "0000:c1:00.0"
    assert leftover.note is not None
    assert "nvml did not list this device" in leftover.note


def test_unknown_amd_device_in_sysfs(make_sysfs: Callable[..., Path]) -> None:
    odd = {"bdf": "0000:83:00.0", "class": "0x038000", "vendor": "0x1002", "device": "0x7fff"}
    (gpu,) = host(sysfs_root=make_sysfs(odd)).gpus
    assert gpu.vendor == "amd" and gpu.model_id == "unknown"
    assert (gpu.pci.vendor_id, gpu.pci.device_id) == (0x1002, 0x7FFF)
    assert gpu.note is not None and "amdsmi: amdsmi: AMDSMI error code 40" in gpu.note


def test_host_without_gpu_reports_every_backend_reason(make_sysfs: Callable[..., Path]) -> None:
    inventory = host(sysfs_root=make_sysfs(BMC_VGA))
    assert inventory.gpus == ()
    reasons = {r.backend: r.reason for r in inventory.backends}
    assert reasons == {
        "nvml": "NVML: NVML Shared Library Not Found",
        "amdsmi": "amdsmi: AMDSMI error code 40",
        "xpu-smi": "xpu-smi lists no Intel GPU",  # the tool answered: an empty device list
        "sysfs": "no display or 3D controller of a GPU vendor on the PCI bus",
    }
    assert [r.devices for r in inventory.backends] == [0, 0, 0, 0]


def test_missing_sysfs_is_a_reason(tmp_path: Path) -> None:
    inventory = host(sysfs_root=tmp_path / "nothing")
    sysfs = inventory.backends[-1]
    assert not sysfs.available
    assert (
        sysfs.reason == f"{tmp_path / 'nothing' / 'sys/bus/pci/devices'} does not exist "
        "(not Linux, or sysfs not mounted)"
    )


def test_mixed_vendor_host() -> None:
    inventory = host(
        nvml_rec="nvml_1x_rtx4090", amd_rec="amdsmi_8x_mi300x", xpu_rec="xpusmi_4x_max1550"
    )
    vendors = [g.vendor for g in inventory.gpus]
    assert vendors.count("nvidia") == 1 and vendors.count("amd") == 8
    assert vendors.count("intel") == 4
    assert "unknown" not in {g.model_id for g in inventory.gpus}


def test_sysfs_says_when_vendor_backends_listed_everything(make_sysfs: Callable[..., Path]) -> None:
    same = {"bdf": "0000:01:00.0", "class": "0x030000", "vendor": "0x10de", "device": "0x2684"}
    inventory = host(nvml_rec="nvml_1x_rtx4090", sysfs_root=make_sysfs(same))
    assert len(inventory.gpus) == 1 and inventory.gpus[0].backend == "nvml"
    sysfs = inventory.backends[-1]
    assert (sysfs.devices, sysfs.reason) == (
        0,
        "every GPU on the PCI bus was listed by its vendor backend",
    )
