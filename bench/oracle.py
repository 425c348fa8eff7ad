"""Attestations verified per second per core through the oracle pipeline, minus the chain read.

Run: .venv/bin/python bench/oracle.py [N]

Each attestation goes through schema validation (pydantic), the agent's EIP-712 signature
(precomputed typehashes, raw coincurve recovery), the authorization check (answered from a warm
cache, as between blocks), the challenge (issuer signature, expiry, single use in SQLite), the
spec-table plausibility checks and the oracle's approval signature (persisted). Target: 2,500/s.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

from eth_account import Account
from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from depin.attestation import GpuAttestation, gpu_key, model_bytes, sign_digest  # noqa: E402
from depin.attestation_client import OracleConfig  # noqa: E402
from depin.eip712 import Domain  # noqa: E402
from depin.wire import AttestationBody, AttestationRequest  # noqa: E402
from oracle.pipeline import Pipeline  # noqa: E402
from oracle.store import Store  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    console = Console()
    oracle = Account.create()
    provider = Account.create()
    agent = Account.create()
    domain = Domain("DePIN AttestationOracle", "1", 31337, "0x" + "11" * 20)
    config = OracleConfig(1, (oracle.address,), 1)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "oracle.sqlite3")
        pipeline = Pipeline(oracle, domain, lambda: config, lambda p, a: True, store)
        now = int(time.time())
        bodies = []
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("signing attestations as an agent", total=n)
            for _ in range(n):
                token = pipeline.issue_challenge()
                message = GpuAttestation(
                    provider.address, agent.address, gpu_key("nvidia", secrets.token_hex(16)),
                    0x10DE, model_bytes("nvidia-h100-sxm5-80gb"), 85899345920, 60_000, 900_000,
                    3_200, 1_800_000, token.challenge, now - 5, now + 86400,
                )  # fmt: skip
                bodies.append(
                    {
                        "attestation": AttestationBody.of(message).model_dump(mode="json"),
                        "signature": "0x" + sign_digest(agent, message.digest(domain)).hex(),
                        "challenge": token.model_dump(mode="json"),
                    }
                )
                progress.advance(task)
            task = progress.add_task("verifying and approving", total=n)
            start = time.perf_counter()
            for body in bodies:
                pipeline.approve(AttestationRequest.model_validate(body))
                progress.advance(task)
            elapsed = time.perf_counter() - start
    console.print(
        f"{n:,} attestations in {elapsed:.2f} s on one core: "
        f"[bold]{n / elapsed:,.0f} verified/s[/bold] (target 2,500/s)"
    )


if __name__ == "__main__":
    main()
