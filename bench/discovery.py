"""Time agent discovery on the recorded 8x H100 host and the CPU benchmark path.

Run: ``.venv/bin/python bench/discovery.py [--runs 200]``

Targets: discovery of the 8-GPU host <= 50 ms (median); CPU benchmarks <= 10 s.

Baselines, run in the same process:
- discovery: parsing ``nvidia-smi -q -x`` XML for the same 8 GPUs (the XML is rendered from the
  same recorded values, so both paths produce the same facts); the nvidia-smi process itself,
  which costs far more on a real host, is not counted;
- CPU benchmark: fp32 matmul through ``np.einsum(optimize=False)`` (no BLAS) at the same size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from agent.benchmark import CPU_PLAN, run_benchmarks
from agent.discovery import GpuRecord, NvmlBackend, discover
from agent.discovery.recording import nvml_replay
from depin.specs import lookup

RECORDING = Path(__file__).parent.parent / "tests/fixtures/discovery/nvml_8x_h100_sxm.json"
MIB = 1 << 20


def nvidia_smi_xml(gpus: tuple[GpuRecord, ...]) -> str:
    """What ``nvidia-smi -q -x`` prints for these GPUs (the fields discovery reads)."""
    root = ET.Element("nvidia_smi_log")
    ET.SubElement(root, "driver_version").text = gpus[0].driver_version
    ET.SubElement(root, "cuda_version").text = gpus[0].cuda_driver_version
    ET.SubElement(root, "attached_gpus").text = str(len(gpus))
    for g in gpus:
        assert g.pci.bus_id and g.pci.device_id and g.pci.subsystem_device_id
        node = ET.SubElement(root, "gpu", id=g.pci.bus_id.upper())
        for tag, value in (
            ("product_name", g.name),
            ("product_architecture", (g.architecture or "").capitalize()),
            ("serial", g.serial),
            ("uuid", g.uuid),
            ("board_part_number", g.board_part_number),
            ("vbios_version", g.vbios_version),
        ):
            ET.SubElement(node, tag).text = value
        mig = ET.SubElement(node, "mig_mode")
        ET.SubElement(mig, "current_mig").text = "Enabled" if g.mig.enabled else "Disabled"
        pci = ET.SubElement(node, "pci")
        ET.SubElement(pci, "pci_bus_id").text = g.pci.bus_id.upper()
        ET.SubElement(pci, "pci_device_id").text = f"0x{g.pci.device_id:04X}10DE"
        ET.SubElement(pci, "pci_sub_system_id").text = f"0x{g.pci.subsystem_device_id:04X}10DE"
        fb = ET.SubElement(node, "fb_memory_usage")
        ET.SubElement(fb, "total").text = f"{(g.memory_bytes or 0) // MIB} MiB"
        ecc = ET.SubElement(node, "ecc_mode")
        ET.SubElement(ecc, "current_ecc").text = "Enabled" if g.ecc_enabled else "Disabled"
        power = ET.SubElement(node, "gpu_power_readings")
        ET.SubElement(power, "current_power_limit").text = f"{g.power_limit_watts:.2f} W"
        clocks = ET.SubElement(node, "max_clocks")
        ET.SubElement(clocks, "sm_clock").text = f"{g.max_sm_clock_mhz} MHz"
        ET.SubElement(clocks, "mem_clock").text = f"{g.max_memory_clock_mhz} MHz"
        links = ET.SubElement(node, "nvlink")
        for link in g.nvlinks:
            ET.SubElement(links, "link", id=str(link.link)).text = "Active"
    return ET.tostring(root, encoding="unicode")


def parse_nvidia_smi_xml(text: str) -> list[dict[str, Any]]:
    """The baseline: parse the XML into the same facts, with the same spec lookup."""
    root = ET.fromstring(text)
    out = []
    for node in root.iter("gpu"):
        word = int(node.findtext("pci/pci_device_id") or "0", 16)
        memory = int((node.findtext("fb_memory_usage/total") or "0").split()[0]) * MIB
        spec = lookup(word & 0xFFFF, word >> 16, memory)
        out.append(
            {
                "bus_id": node.get("id"),
                "name": node.findtext("product_name"),
                "uuid": node.findtext("uuid"),
                "serial": node.findtext("serial"),
                "memory_bytes": memory,
                "model_id": spec.model_id if spec else "unknown",
                "mig": node.findtext("mig_mode/current_mig") == "Enabled",
                "nvlinks": len(node.findall("nvlink/link")),
                "power_w": float(
                    (node.findtext("gpu_power_readings/current_power_limit") or "0").split()[0]
                ),
            }
        )
    return out


def timed(fn: Any, runs: int, progress: Progress, label: str) -> list[float]:
    task = progress.add_task(label, total=runs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        progress.advance(task)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    recording = json.loads(RECORDING.read_text())
    console = Console()

    def ours() -> None:
        inventory = discover(
            [NvmlBackend(nvml_replay(recording))], sysfs_root=None, hostname="bench"
        )
        assert len(inventory.gpus) == 8

    reference = NvmlBackend(nvml_replay(recording)).run().gpus
    xml = nvidia_smi_xml(reference)

    def baseline() -> None:
        assert len(parse_nvidia_smi_xml(xml)) == 8

    with Progress(console=console, transient=True) as progress:
        ours_t = timed(ours, args.runs, progress, "discovery (replayed NVML)")
        base_t = timed(baseline, args.runs, progress, "baseline (nvidia-smi XML parse)")
        task = progress.add_task("CPU benchmarks", total=4)
        report = run_benchmarks(
            "numpy",
            progress=lambda _n, done, total: progress.update(task, completed=done, total=total),
        )
        n = CPU_PLAN.fp32_n
        a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
        einsum_t = timed(
            lambda: np.einsum("ij,jk->ik", a, a, optimize=False),
            3,
            progress,
            "baseline (einsum fp32)",
        )

    table = Table(title=f"bench/discovery.py ({args.runs} runs)")
    for column in ("what", "median", "p90 / spread", "target", "baseline", "baseline median"):
        table.add_column(column)
    p90 = statistics.quantiles(ours_t, n=10)[-1]
    table.add_row(
        "discover 8x H100 (replayed NVML, full records)",
        f"{statistics.median(ours_t) * 1e3:.2f} ms",
        f"{p90 * 1e3:.2f} ms",
        "<= 50 ms",
        "nvidia-smi -q -x parse (same facts, no process spawn)",
        f"{statistics.median(base_t) * 1e3:.2f} ms",
    )
    fp32 = report.result("matmul_fp32")
    assert fp32 is not None
    table.add_row(
        "CPU benchmark path (4 measures)",
        f"{report.elapsed_s:.2f} s",
        f"fp32 spread {fp32.spread:.0%}",
        "<= 10 s",
        f"fp32 {n}x{n} einsum, no BLAS",
        f"{statistics.median(einsum_t) * 1e3:.1f} ms vs {fp32.median_s * 1e3:.1f} ms",
    )
    console.print(table)
    for r in report.results:
        console.print(
            f"  {r.name:17} n={r.size:<10} median {r.median_s * 1e3:8.2f} ms  "
            f"{r.value:.4g} {r.unit}  (spread {r.spread:.0%}, {r.iterations} runs)"
        )


if __name__ == "__main__":
    main()
