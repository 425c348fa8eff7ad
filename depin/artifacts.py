"""Compiled contract artifacts (ABI and bytecode), built from ``contracts/`` on demand.

The artifacts are compiled once with the project's solc (solcjs, see :mod:`depin.toolchain`) and
cached under ``.build/depin/`` keyed by a hash of every source and the compiler settings, so a
changed contract is recompiled and an unchanged one costs a file read.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from depin.errors import ToolchainError
from depin.toolchain import NODE_MODULES, PROJECT_ROOT, solc_binary, solc_version

CONTRACTS_DIR = PROJECT_ROOT / "contracts"
BUILD_DIR = PROJECT_ROOT / ".build" / "depin"
EVM_VERSION = "prague"
OPTIMIZER_RUNS = 10_000
_REMAPPINGS = ["@openzeppelin/contracts/=@openzeppelin/contracts/"]
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


def _sources() -> dict[str, Path]:
    return {
        str(path.relative_to(PROJECT_ROOT)): path
        for path in sorted(CONTRACTS_DIR.rglob("*.sol"))
        if ".cache" not in path.parts
    }


def _fingerprint(sources: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{solc_version()}|{EVM_VERSION}|{OPTIMIZER_RUNS}|{_REMAPPINGS}".encode())
    for name, path in sources.items():
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def _compile(sources: dict[str, Path]) -> dict[str, Artifact]:
    import solcx

    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": path.read_text()} for name, path in sources.items()},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "viaIR": False,
            "remappings": _REMAPPINGS,
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }
    try:
        output = solcx.compile_standard(
            standard_input,
            solc_binary=solc_binary(),
            base_path=str(PROJECT_ROOT),
            allow_paths=[str(PROJECT_ROOT), str(NODE_MODULES)],
        )
    except Exception as exc:  # solcx raises SolcError with the compiler's message
        raise ToolchainError(f"compiling contracts failed: {exc}") from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ToolchainError("\n".join(e.get("formattedMessage", str(e)) for e in errors))
    artifacts: dict[str, Artifact] = {}
    for file_contracts in output["contracts"].values():
        for name, data in file_contracts.items():
            artifacts[name] = Artifact(
                name=name,
                abi=data["abi"],
                bytecode="0x" + data["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
            )
    return artifacts


@cache
def load_all() -> dict[str, Artifact]:
    """Every contract in ``contracts/`` (and what it imports), compiled if the cache is stale."""
    with _LOCK:
        sources = _sources()
        if not sources:
            raise ToolchainError(f"no Solidity sources under {CONTRACTS_DIR}")
        fingerprint = _fingerprint(sources)
        cached = BUILD_DIR / f"artifacts-{fingerprint}.json"
        if cached.exists():
            raw = json.loads(cached.read_text())
            return {name: Artifact(**data) for name, data in raw.items()}
        artifacts = _compile(sources)
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({n: a.__dict__ for n, a in artifacts.items()}))
        tmp.replace(cached)
        return artifacts


def load(name: str) -> Artifact:
    """The artifact of contract ``name`` (e.g. ``ProviderRegistry``)."""
    artifacts = load_all()
    try:
        return artifacts[name]
    except KeyError:
        raise ToolchainError(f"no contract named {name}; known: {sorted(artifacts)}") from None


def abi(name: str) -> list[dict[str, Any]]:
    """The ABI of contract ``name``."""
    return load(name).abi


def canonical_type(param: dict[str, Any]) -> str:
    """An ABI parameter's type as signatures spell it: a tuple as its components' types."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind
