"""The fleet-scale liveness benchmark (``bench/heartbeats.py``), run tiny so that it never rots:
20 agents, two 5-second epochs, three real oracle processes, the indexer and the API."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "heartbeats.py"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("heartbeats") / "summary.json"
    argv = [
        sys.executable, str(SCRIPT), "--quick", "--agents", "20", "--epochs", "2",
        "--epoch-length", "5", "--ceiling-seconds", "1", "--json", str(out),
    ]  # fmt: skip
    with subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            output, _ = process.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            # SIGTERM lets the benchmark stop the chain and the services it started.
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
            pytest.fail(f"bench/heartbeats.py ran past 150 s:\n{output[-4000:]}")
    assert process.returncode == 0, output[-4000:]
    return dict(json.loads(out.read_text()))


def test_every_heartbeat_sent_is_acknowledged(summary: dict[str, Any]) -> None:
    assert summary["agents"] == 20
    assert summary["sent"] == 20 * 3 * 3 * 2  # agents x oracles x per epoch x epochs
    assert summary["acked"] == summary["sent"]
    assert summary["refused"] == {}
    assert summary["failed"] == {}
    assert summary["targets"]["nothing_lost"]


def test_every_epoch_is_recorded_with_every_gpu_online(summary: dict[str, Any]) -> None:
    assert len(summary["epochs"]) == 2
    for epoch in summary["epochs"]:
        assert epoch["recorded"], epoch
        assert epoch["onchain"][0] == summary["gpus"], epoch
        assert epoch["api_online"] == summary["gpus"], epoch


def test_the_ceiling_phase_measures_the_oracle(summary: dict[str, Any]) -> None:
    assert summary["ceiling_acked"] > 0
    assert summary["ceiling_per_core"] > 0
