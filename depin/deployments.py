"""Deployed contract addresses, recorded per chain id as ``<folder>/<chain id>.json``.

Local chains record under the data folder (``DEPIN_HOME``); real networks also commit theirs to
``deployments/`` at the top of the repository, which is searched second.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from depin.errors import DeploymentNotFoundError
from depin.toolchain import PROJECT_ROOT

REPO_DEPLOYMENTS = PROJECT_ROOT / "deployments"


@dataclass(frozen=True)
class Deployment:
    """One deployed contract."""

    name: str
    address: str
    block: int
    tx_hash: str


def _path(folder: Path, chain_id: int) -> Path:
    return folder / f"{chain_id}.json"


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def record(folder: Path, chain_id: int, deployment: Deployment) -> Path:
    """Adds or replaces ``deployment`` in the chain's file (atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = _path(folder, chain_id)
    data = _read(path)
    data.setdefault("chainId", chain_id)
    data.setdefault("contracts", {})[deployment.name] = asdict(deployment)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path


def load_all(folder: Path, chain_id: int) -> dict[str, Deployment]:
    """Every contract recorded for ``chain_id`` in ``folder``, then in the repository."""
    found: dict[str, Deployment] = {}
    for path in (_path(REPO_DEPLOYMENTS, chain_id), _path(folder, chain_id)):
        for name, raw in _read(path).get("contracts", {}).items():
            found[name] = Deployment(**raw)
    return found


def load(folder: Path, chain_id: int, name: str) -> Deployment:
    """The recorded deployment of ``name`` on ``chain_id``."""
    try:
        return load_all(folder, chain_id)[name]
    except KeyError:
        raise DeploymentNotFoundError(chain_id, name) from None
