"""The prepared real-GPU run (``bench/gpu_host.py``), run dry on the CPU so that it never rots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_host.py"

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Steps a CPU host can always do; the GPU provers are skipped (with a reason) where absent.
REQUIRED = (
    "discover",
    "nvml_recording",
    "nvml_health",
    "benchmarks",
    "proof_numpy",
    "oracle_verify",
    "e2e",
)
OPTIONAL = ("proof_torch", "proof_cupy")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("gpu_host")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out), "--deadline-s", "240"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    return out, summary


def test_every_step_has_a_result(dry_run: tuple[Path, dict[str, object]]) -> None:
    _, summary = dry_run
    steps = summary["steps"]
    assert isinstance(steps, dict)
    assert set(steps) == set(REQUIRED) | set(OPTIONAL)
    for name in REQUIRED:
        assert steps[name]["status"] == "ok", (name, steps[name])
        assert steps[name]["result"], name
    for name in OPTIONAL:
        assert steps[name]["status"] in ("ok", "skipped"), (name, steps[name])
        if steps[name]["status"] == "skipped":
            assert steps[name]["reason"]


def test_the_proof_is_measured_and_verified(dry_run: tuple[Path, dict[str, object]]) -> None:
    _, summary = dry_run
    steps = summary["steps"]
    assert isinstance(steps, dict)
    proof = steps["proof_numpy"]["result"]
    assert proof["within_deadline"] and proof["achieved_tops"] > 0
    assert proof["model_id"] == "nvidia-h100-sxm5-80gb" and proof["peak_int8_tops"] > 0
    verdicts = steps["oracle_verify"]["result"]["numpy"]
    assert [v["verdict"] for v in verdicts] == ["accepted"]


def test_the_stack_serves_the_replayed_gpus_verified_and_online(
    dry_run: tuple[Path, dict[str, object]],
) -> None:
    _, summary = dry_run
    steps = summary["steps"]
    assert isinstance(steps, dict)
    e2e = steps["e2e"]["result"]
    assert e2e["gpus"] and all(g["verified"] for g in e2e["gpus"])
    assert any(g["online"] for g in e2e["gpus"])
    assert all(g["model"].startswith("sim:") for g in e2e["gpus"])


def test_the_files_for_fixtures_are_written(dry_run: tuple[Path, dict[str, object]]) -> None:
    out, _ = dry_run
    for name in ("discover.json", "nvml_recording.json", "nvml_health.json", "benchmarks.json"):
        assert (out / name).is_file(), name
    recording = json.loads((out / "nvml_recording.json").read_text())
    assert recording["provenance"] == "replayed" and recording["calls"]
    health = json.loads((out / "nvml_health.json").read_text())
    assert len(health["devices"]) == 8
    fields = {"ecc_errors", "retired_pages", "remapped_rows", "xid_events", "compute_processes"}
    assert set(health["devices"][0]) >= fields | {"utilization", "clocks_event_reasons"}
