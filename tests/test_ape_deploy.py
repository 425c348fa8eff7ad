"""The contracts compile and deploy through ape (what operators use for real networks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from depin.toolchain import PROJECT_ROOT


@pytest.mark.slow
@pytest.mark.integration
def test_ape_run_deploy_on_local_foundry(tmp_path: Path) -> None:
    ape = str(Path(sys.executable).with_name("ape"))
    env = {**os.environ, "DEPIN_HOME": str(tmp_path)}
    done = subprocess.run(
        [ape, "run", "deploy", "--network", "ethereum:local:foundry"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = json.loads((tmp_path / "deployments" / "31337.json").read_text())
    address = recorded["contracts"]["ProviderRegistry"]["address"]
    assert address.startswith("0x") and len(address) == 42
    assert f"ProviderRegistry {address}" in done.stdout
    oracle = recorded["contracts"]["AttestationOracle"]["address"]
    assert f"AttestationOracle {oracle}: 3 oracles, threshold 2" in done.stdout
