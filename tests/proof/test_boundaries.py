"""The shared protocol imports neither role, and the roles never import each other."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("depin.proof", ("agent", "oracle", "torch", "cupy")),
        ("agent.prover", ("oracle", "torch", "cupy")),
        ("oracle.proof", ("agent", "torch", "cupy")),
    ],
)
def test_import_boundaries(module: str, forbidden: tuple[str, ...]) -> None:
    code = (
        f"import sys, {module}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
