"""Where the project's tools live, and the offline Solidity compiler set-up.

Native ``solc`` builds cannot be downloaded on every machine; the npm package ``solc`` (solcjs)
can. ``setup()`` writes a small ``solc``-compatible executable backed by solcjs into py-solc-x's
folder as ``solc-v<version>``, which is what ape-solidity and ``solcx.compile_standard`` look for.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

from depin.errors import ToolchainError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = PROJECT_ROOT / "node_modules"
SOLCX_DIR = PROJECT_ROOT / ".solcx"
APE_DATA_DIR = PROJECT_ROOT / ".ape"
_WRAPPER_TEMPLATE = Path(__file__).resolve().parent / "_toolchain" / "solc.js"


def configure_environment() -> None:
    """Point ape and py-solc-x at folders inside the project (a fresh clone is self-contained)."""
    os.environ.setdefault("APE_DATA_FOLDER", str(APE_DATA_DIR))
    os.environ.setdefault("SOLCX_BINARY_PATH", str(SOLCX_DIR))
    anvil_dir = str(anvil_path().parent) if _anvil_candidate().exists() else None
    if anvil_dir and anvil_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = anvil_dir + os.pathsep + os.environ.get("PATH", "")


def solc_version() -> str:
    """The solcjs version from node_modules, e.g. ``0.8.30``."""
    package = NODE_MODULES / "solc" / "package.json"
    if not package.exists():
        raise ToolchainError("node_modules/solc is missing; run scripts/bootstrap.sh (npm ci)")
    return str(json.loads(package.read_text())["version"])


def solc_binary() -> Path:
    """Path of the registered solc executable (created by :func:`setup` when missing)."""
    path = Path(os.environ.get("SOLCX_BINARY_PATH", SOLCX_DIR)) / f"solc-v{solc_version()}"
    if not path.exists():
        setup()
    return path


def setup() -> Path:
    """Register the solcjs-backed ``solc`` with py-solc-x; returns its path."""
    if shutil.which("node") is None:
        raise ToolchainError("node is not on PATH; install Node.js 18+ (apt-get install nodejs)")
    version = solc_version()
    folder = Path(os.environ.get("SOLCX_BINARY_PATH", SOLCX_DIR))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"solc-v{version}"
    text = (
        _WRAPPER_TEMPLATE.read_text()
        .replace("__SOLCJS_MODULE__", str(NODE_MODULES / "solc"))
        .replace("__NODE_MODULES__", str(NODE_MODULES))
    )
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


def _anvil_candidate() -> Path:
    return NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def anvil_path() -> Path:
    """The anvil binary shipped by the npm package ``@foundry-rs/anvil``."""
    candidate = _anvil_candidate()
    if candidate.exists():
        return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ToolchainError(
        "anvil not found: run scripts/bootstrap.sh (npm ci, without --omit=optional)"
    )


def main(argv: list[str]) -> int:
    if argv[1:] == ["setup"]:
        configure_environment()
        path = setup()
        print(f"solc {solc_version()} (solcjs) registered at {path}")
        return 0
    print("usage: python -m depin.toolchain setup", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
