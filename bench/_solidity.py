"""Compiling the benchmarks' own contracts (``bench/contracts/``), which are not part of the
project's artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depin.toolchain import solc_binary

CONTRACTS = Path(__file__).resolve().parent / "contracts"


def compile_bench_contract(name: str, optimizer_runs: int) -> tuple[list[dict[str, Any]], str]:
    """The ABI and creation bytecode of contract ``name`` in ``bench/contracts/<name>.sol``."""
    import solcx

    source = f"{name}.sol"
    out = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {source: {"content": (CONTRACTS / source).read_text()}},
            "settings": {
                "evmVersion": "prague",
                "optimizer": {"enabled": True, "runs": optimizer_runs},
                "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
            },
        },
        solc_binary=solc_binary(),
    )
    data = out["contracts"][source][name]
    return data["abi"], "0x" + data["evm"]["bytecode"]["object"]
