"""The capability document the agent builds from discovery of every recorded host."""

from __future__ import annotations

from pathlib import Path

import pytest
from replayed import host

from agent.capabilities import HostProbe, build_document
from agent.daemon import usable_gpus
from agent.discovery import Inventory
from depin.capabilities import CapabilityDocument, canonical_bytes, document_hash, gpu_facets
from depin.crypto import to_hex

GIB = 1 << 30

#: every recorded host with a GPU the agent can attest, by backend
RECORDED_HOSTS = {
    "nvml_8x_h100_sxm": {"nvml_rec": "nvml_8x_h100_sxm"},
    "nvml_2x_h100_mig": {"nvml_rec": "nvml_2x_h100_mig"},
    "nvml_4x_a100_sxm4_80gb": {"nvml_rec": "nvml_4x_a100_sxm4_80gb"},
    "nvml_1x_rtx4090": {"nvml_rec": "nvml_1x_rtx4090"},
    "amdsmi_8x_mi300x": {"amd_rec": "amdsmi_8x_mi300x"},
    "xpusmi_4x_max1550": {"xpu_rec": "xpusmi_4x_max1550"},
}


def fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    if root.exists():
        return root
    (root / "proc" / "sys" / "kernel").mkdir(parents=True)
    (root / "etc").mkdir()
    cpu = "processor\t: {i}\nmodel name\t: AMD EPYC 9654 96-Core Processor\n\n"
    (root / "proc" / "cpuinfo").write_text("".join(cpu.format(i=i) for i in range(192)))
    (root / "proc" / "meminfo").write_text("MemTotal:       2113389512 kB\nMemFree: 1 kB\n")
    (root / "proc" / "sys" / "kernel" / "osrelease").write_text("6.8.0-45-generic\n")
    (root / "etc" / "os-release").write_text('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\n')
    return root


def probe(root: Path, free: int = 3_500 * GIB + 12345) -> HostProbe:
    binaries = {"docker", "nvidia-ctk"}
    return HostProbe(
        root=root,
        which=lambda name: f"/usr/bin/{name}" if name in binaries else None,
        disk_free=lambda _path: free,
    )


def document_of(inventory: Inventory, host_probe: HostProbe) -> CapabilityDocument:
    claims, _ = usable_gpus(inventory, simulated=False)
    return build_document(claims, host_probe.host())


@pytest.mark.parametrize("name", sorted(RECORDED_HOSTS))
def test_two_runs_on_an_unchanged_host_give_the_same_bytes_and_hash(
    name: str, tmp_path: Path
) -> None:
    root = fake_root(tmp_path)
    first = document_of(host(**RECORDED_HOSTS[name]), probe(root))
    # a second discovery, and a few MiB written to the disk meanwhile
    second = document_of(host(**RECORDED_HOSTS[name]), probe(root, free=3_500 * GIB + 999_999))
    assert canonical_bytes(first) == canonical_bytes(second)
    assert document_hash(first) == document_hash(second)
    claims, _ = usable_gpus(host(**RECORDED_HOSTS[name]), simulated=False)
    assert {g.gpu_key for g in first.gpus} == {to_hex(c.key) for c in claims}
    assert [g.slot for g in first.gpus] == sorted(c.record.slot for c in claims)


def test_the_host_part_reads_proc_os_release_disk_and_path(tmp_path: Path) -> None:
    part = probe(fake_root(tmp_path)).host()
    assert part.cpu_model == "AMD EPYC 9654 96-Core Processor" and part.cpu_cores == 192
    assert part.ram_gib == 2015 and part.disk_free_gib == 3500
    assert part.os == "Ubuntu 24.04.1 LTS" and part.kernel == "6.8.0-45-generic"
    assert part.container_runtimes == ["docker", "nvidia-container-toolkit"]


def test_a_host_that_says_nothing_leaves_each_part_unknown(tmp_path: Path) -> None:
    part = HostProbe(root=tmp_path, which=lambda _n: None, disk_free=lambda _p: None).host()
    assert part.model_dump() == {
        "cpu_model": None,
        "cpu_cores": None,
        "ram_gib": None,
        "disk_free_gib": None,
        "os": None,
        "kernel": None,
        "container_runtimes": [],
    }


def test_this_machine_is_read_the_same_way_twice() -> None:
    # the real /proc, /etc and PATH; the disk is the one part that moves under other writers
    real = HostProbe(disk_free=lambda _p: 100 * GIB)
    assert real.host() == real.host()
    assert real.host().cpu_cores


def test_an_hgx_h100_document_says_what_a_scheduler_asks(tmp_path: Path) -> None:
    doc = document_of(host(nvml_rec="nvml_8x_h100_sxm"), probe(fake_root(tmp_path)))
    gpu = doc.gpus[0]
    assert gpu.slot == "0000:18:00.0" and gpu.model == "nvidia-h100-sxm5-80gb"
    assert (gpu.driver_version, gpu.cuda_version, gpu.compute_capability) == (
        "550.54.15",
        "12.4",
        "9.0",
    )
    assert (gpu.pcie.generation, gpu.pcie.width) == (5, 16)
    assert gpu.links is not None and (gpu.links.kind, gpu.links.active_links) == ("nvlink", 18)
    assert gpu.ecc_enabled is True and gpu.power_limit_watts == 700
    facets = gpu_facets(doc)
    assert {f.interconnect for f in facets} == {"nvlink"} and facets[0].gpus_per_host == 8


def test_mig_instances_and_pcie_only_gpus_are_described(tmp_path: Path) -> None:
    mig = document_of(host(nvml_rec="nvml_2x_h100_mig"), probe(fake_root(tmp_path)))
    assert mig.gpus[0].mig_enabled is True
    assert [m.name for m in mig.gpus[0].mig_instances] == ["NVIDIA H100 80GB HBM3 MIG 1g.10gb"] * 7
    desktop = document_of(host(nvml_rec="nvml_1x_rtx4090"), probe(fake_root(tmp_path)))
    (gpu,) = desktop.gpus
    assert gpu.links is None and gpu.pcie.generation == 4  # the widest link, not the idle Gen1
    assert gpu.mig_enabled is None and gpu.ecc_enabled is None
    assert gpu_facets(desktop)[0].interconnect == "pcie"


def test_amd_and_intel_hosts_carry_their_own_stack(tmp_path: Path) -> None:
    amd = document_of(host(amd_rec="amdsmi_8x_mi300x"), probe(fake_root(tmp_path)))
    assert (amd.gpus[0].rocm_version, amd.gpus[0].architecture) == ("6.2.0", "gfx942")
    assert (
        amd.gpus[0].cuda_version is None
        and gpu_facets(amd)[0].rocm_key == "00000006.00000002.00000000"
    )
    intel = document_of(host(xpu_rec="xpusmi_4x_max1550"), probe(fake_root(tmp_path)))
    assert intel.gpus[0].ecc_enabled is True
    assert gpu_facets(intel)[0].driver_key is None  # I915_23.10.54_PSB_...: no numeric order
