"""A newcomer's path: a fresh clone and the README's run command reach "ready"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from depin.chain import free_port
from depin.toolchain import PROJECT_ROOT


@pytest.mark.slow
@pytest.mark.integration
def test_fresh_clone_scripts_up_reaches_ready(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(clone)], check=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEPIN_", "VIRTUAL_ENV", "APE_", "SOLCX_"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    ports = [str(free_port()) for _ in range(3)]
    done = subprocess.run(
        [
            "scripts/up",
            "--ready-only",
            "--port",
            ports[0],
            "--api-port",
            ports[1],
            "--oracle-port",
            ports[2],
            "--home",
            str(tmp_path / "home"),
        ],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "ready in" in output
    assert f"http://127.0.0.1:{ports[1]}/docs" in output
    assert (clone / ".venv" / "bin" / "depin").exists()
