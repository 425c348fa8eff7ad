"""The alert evaluation benchmark (``bench/alerts.py``), run tiny so that it never rots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_alerts_benchmark_runs_and_reports_both_figures(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    argv = [
        sys.executable, str(ROOT / "bench" / "alerts.py"), "--subscriptions", "40",
        "--blocks", "2", "--per-block", "200", "--naive-blocks", "1", "--json", str(out),
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}  # the table on one line per row
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "naive rescan per block" in run.stdout and "events/s" in run.stdout
    figures = json.loads(out.read_text())
    assert figures["subscriptions"] == 40 and figures["alerts_made"] > 0
    assert figures["incremental_events_per_s"] > 0 and figures["naive_events_per_s"] > 0
