"""The explorer API benchmark (``bench/api.py``), run tiny so that it never rots: it fills a
SQLite inventory with capability documents in the API state of its own run (never the
project's ``.depin``), serves the API and the naive baseline, and measures every route, the
random filter every request included, with no failed request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_api_benchmark_runs_every_route_beside_the_baseline(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    argv = [
        sys.executable, str(ROOT / "bench" / "api.py"), "--sqlite", "3000", "--postgres", "0",
        "--duration", "1", "--epochs", "4", "--connections", "4", "--json", str(out),
    ]  # fmt: skip
    home = tmp_path / "home"  # a run writes nothing under the home it inherits either
    env = {**os.environ, "COLUMNS": "200", "DEPIN_HOME": str(home)}
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = {row["route"]: row for row in json.loads(out.read_text())}
    for route in (
        "api first page",
        "api new filter every request",
        "api random filter every request",
        "naive first page",
        "naive random filter every request",
    ):
        assert rows[route]["rps"] > 0, rows
    assert all(row["errors"] == 0 and row["timeouts"] == 0 for row in rows.values()), rows
    assert not home.exists()
