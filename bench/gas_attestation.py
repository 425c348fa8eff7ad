"""Gas of AttestationOracle on anvil (Prague) beside EAS 1.9.0 deployed in the same run.

Run: .venv/bin/python bench/gas_attestation.py [--quick]

Prints gas per attestation at batch 1, 10 and 100 (first attestation and re-attestation, t = 2,
every figure includes the 21,000 base and the calldata), with GPUs grouped by host (8 GPUs per
agent, as a host runs) and with a distinct provider and agent per GPU (worst case); gas per GPU
per liveness epoch at 100, 1,000 and 10,000 GPUs; and EAS ``attest`` / ``multiAttest`` for a
payload carrying the same fields (EAS checks no signature at all: the attester is the sender).

Targets: re-attestation <= 25,000 and first attestation <= 45,000 at batch 100; liveness <= 50
gas per GPU per epoch at 10,000 GPUs. EAS reference: multiAttest 188,404 per attestation.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from web3 import Web3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from depin.attestation import (  # noqa: E402
    ALL_WELL,
    GpuAttestation,
    Liveness,
    gpu_key,
    model_bytes,
    sign_digest,
)
from depin.attestation_client import AttestationClient  # noqa: E402
from depin.chain import ANVIL_KEYS, Anvil, connect, deploy, transact  # noqa: E402
from depin.deploy import deploy_registry_and_oracle  # noqa: E402
from depin.registry import Profile, RegistryClient  # noqa: E402
from depin.toolchain import NODE_MODULES, configure_environment  # noqa: E402

GPUS_PER_HOST = 8
EAS_SCHEMA = (
    "bytes32 gpuKey,address agent,uint16 vendorId,bytes32 model,uint64 memoryBytes,"
    "uint256 figures,bytes32 challenge,uint32 measuredAt"
)
EAS_SOLC = NODE_MODULES / "solc-0.8.29"
EAS_DIR = NODE_MODULES / "@ethereum-attestation-service" / "eas-contracts" / "contracts"


def compile_eas() -> dict[str, tuple[list[dict[str, Any]], str]]:
    """EAS and SchemaRegistry compiled with solcjs 0.8.29 through the project's solc wrapper."""
    if not EAS_SOLC.exists():
        raise SystemExit("node_modules/solc-0.8.29 is missing: run npm install")
    sources = {
        f"@ethereum-attestation-service/eas-contracts/contracts/{name}": {
            "urls": [str(EAS_DIR / name)]
        }
        for name in ("EAS.sol", "SchemaRegistry.sol")
    }
    standard = {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "evmVersion": "prague",
            "optimizer": {"enabled": True, "runs": 10_000},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    env = dict(os.environ, DEPIN_SOLCJS_MODULE=str(EAS_SOLC), DEPIN_NODE_MODULES=str(NODE_MODULES))
    wrapper = ROOT / "depin" / "_toolchain" / "solc.js"
    out = subprocess.run(
        ["node", str(wrapper), "--standard-json", "--base-path", str(NODE_MODULES)],
        input=json.dumps(standard).encode(),
        capture_output=True,
        env=env,
        check=True,
    )
    result = json.loads(out.stdout)
    errors = [e for e in result.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise SystemExit("\n".join(e["formattedMessage"] for e in errors))
    found: dict[str, tuple[list[dict[str, Any]], str]] = {}
    for contracts in result["contracts"].values():
        for name, data in contracts.items():
            if name in ("EAS", "SchemaRegistry"):
                found[name] = (data["abi"], "0x" + data["evm"]["bytecode"]["object"])
    return found


class Fleet:
    """Providers with authorized agents, and the GPUs they attest."""

    def __init__(self, w3: Web3, registry: RegistryClient, funder: LocalAccount) -> None:
        self.w3 = w3
        self.registry = registry
        self.funder = funder

    def host(self) -> tuple[LocalAccount, LocalAccount]:
        provider: LocalAccount = Account.from_key(secrets.token_bytes(32))
        agent: LocalAccount = Account.from_key(secrets.token_bytes(32))
        self.w3.provider.make_request("anvil_setBalance", [provider.address, hex(10**19)])  # type: ignore[arg-type]
        self.registry.register(provider, Profile(f"p-{provider.address[2:8]}"))
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        self.registry.authorize_agent(provider, agent.address, now + 10**7)
        return provider, agent


def make_entries(
    client: AttestationClient,
    hosts: list[tuple[LocalAccount, LocalAccount]],
    count: int,
    per_host: int,
) -> list[tuple[GpuAttestation, LocalAccount]]:
    now = int(client.w3.eth.get_block("latest")["timestamp"])
    # one capability document per host, its keccak in each of the host's attestations
    documents = [secrets.token_bytes(32) for _ in hosts]
    out = []
    for i in range(count):
        provider, agent = hosts[i // per_host]
        out.append(
            (
                GpuAttestation(
                    provider=provider.address,
                    agent=agent.address,
                    gpu_key=gpu_key("nvidia", f"GPU-{secrets.token_hex(16)}"),
                    vendor_id=0x10DE,
                    model=model_bytes("nvidia-h100-sxm5-80gb"),
                    memory_bytes=85899345920,
                    fp32_gflops=61_234,
                    fp16_gflops=912_345,
                    memory_bandwidth_gbps=3_187,
                    proven_int8_gops=1_812_345,
                    challenge=secrets.token_bytes(32),
                    measured_at=now - 30,
                    expires_at=now + 86400,
                    capabilities=documents[i // per_host],
                ),
                agent,
            )
        )
    return out


def submit(
    client: AttestationClient,
    sender: LocalAccount,
    oracles: list[LocalAccount],
    entries: list[tuple[GpuAttestation, LocalAccount]],
) -> int:
    domain = client.domain
    signed = [(m, sign_digest(a, m.digest(domain))) for m, a in entries]
    digest = client.batch_digest(1, [m for m, _ in entries])
    sigs = [(o.address, sign_digest(o, digest)) for o in oracles]
    receipt = client.submit(sender, 1, signed, sigs, gas=29_000_000)
    if client.rejections(receipt):
        raise SystemExit(f"unexpected rejections: {client.rejections(receipt)[:3]}")
    return int(receipt["gasUsed"])


def main() -> None:
    quick = "--quick" in sys.argv
    configure_environment()
    console = Console()
    deployer: LocalAccount = Account.from_key(ANVIL_KEYS[0])
    sender: LocalAccount = Account.from_key(ANVIL_KEYS[1])
    oracles: list[LocalAccount] = [Account.from_key(k) for k in ANVIL_KEYS[2:5]]
    signers = sorted(oracles, key=lambda a: int(a.address, 16))[:2]
    rows: list[tuple[str, str, str]] = []
    live_rows: list[tuple[str, str, str]] = []
    with Anvil(extra_args=["--gas-limit", "100000000"]) as node:
        w3 = connect(node.rpc_url)
        folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"depin-bench-{secrets.token_hex(4)}"
        registry_at, oracle_at = deploy_registry_and_oracle(
            w3, deployer, folder, [o.address for o in oracles]
        )
        registry = RegistryClient(w3, registry_at.address)
        client = AttestationClient(w3, oracle_at.address)
        fleet = Fleet(w3, registry, deployer)
        sizes = (1, 10, 100)
        layouts = (("8 GPUs per agent", GPUS_PER_HOST), ("1 GPU per agent", 1))
        with Progress(console=console, transient=True) as progress:
            hosts_needed = sum(-(-n // per) for n in sizes for _, per in layouts)
            task = progress.add_task("registering providers and agents", total=hosts_needed)
            pools: dict[tuple[int, int], list[tuple[LocalAccount, LocalAccount]]] = {}
            for n in sizes:
                for _, per in layouts:
                    pool = []
                    for _ in range(-(-n // per)):
                        pool.append(fleet.host())
                        progress.advance(task)
                    pools[(n, per)] = pool
            task = progress.add_task("attesting", total=len(sizes) * len(layouts) * 2)
            for label, per in layouts:
                for n in sizes:
                    entries = make_entries(client, pools[(n, per)], n, per)
                    first = submit(client, sender, signers, entries)
                    progress.advance(task)
                    again = [(replace(m, measured_at=m.measured_at + 1), a) for m, a in entries]
                    second = submit(client, sender, signers, again)
                    progress.advance(task)
                    rows.append((f"{label}, batch {n}", f"{first / n:,.0f}", f"{second / n:,.0f}"))

            # Liveness: fill the GPU index space to 100,000, then post records with every bit set.
            target = 1_000 if quick else 100_000
            provider, agent = fleet.host()
            missing = target - client.gpu_count()
            task = progress.add_task(f"attesting {target:,} GPUs for liveness", total=missing)
            while missing > 0:
                n = min(200, missing)
                submit(client, sender, signers, make_entries(client, [(provider, agent)], n, n))
                missing -= n
                progress.advance(task, n)
            epoch = client.last_liveness_epoch()
            for count in (100, 1_000, 10_000, 100_000):
                if count > client.gpu_count():
                    continue
                epoch += 1
                # The costliest record: every GPU online, available and healthy (no zero bytes).
                liveness = Liveness.from_statuses(dict.fromkeys(range(count), ALL_WELL))
                digest = client.liveness_digest(1, epoch, liveness)
                sigs = [(o.address, sign_digest(o, digest)) for o in signers]
                receipt = client.record_liveness(sender, 1, epoch, liveness, sigs)
                gas = int(receipt["gasUsed"])
                live_rows.append((f"{count:,} GPUs", f"{gas:,}", f"{gas / count:,.1f}"))

            # EAS in the same chain, same payload fields.
            progress.add_task("compiling and deploying EAS 1.9.0 (solc 0.8.29)", total=None)
            eas_rows = eas_gas(w3, deployer, sender)
    table = Table(title="AttestationOracle.submit, t = 2 (gas per attestation, all-in)")
    table.add_column("batch")
    table.add_column("first attestation", justify="right")
    table.add_column("re-attestation", justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    table = Table(title="AttestationOracle.recordLiveness, t = 2, every bit set")
    for col in ("GPUs", "gas", "gas per GPU"):
        table.add_column(col, justify="right")
    for row in live_rows:
        table.add_row(*row)
    console.print(table)
    table = Table(title="EAS 1.9.0 on the same chain (no signature checks)")
    table.add_column("call")
    table.add_column("gas per attestation", justify="right")
    for row in eas_rows:
        table.add_row(*row)
    console.print(table)


def eas_gas(w3: Web3, deployer: LocalAccount, sender: LocalAccount) -> list[tuple[str, str]]:
    compiled = compile_eas()
    abi, bytecode = compiled["SchemaRegistry"]
    registry_address = deploy(w3, deployer, abi, bytecode)["contractAddress"]
    schema_registry = w3.eth.contract(address=registry_address, abi=abi)
    abi, bytecode = compiled["EAS"]
    eas = w3.eth.contract(
        address=deploy(w3, deployer, abi, bytecode, registry_address)["contractAddress"], abi=abi
    )
    receipt = transact(
        w3, deployer, schema_registry.functions.register(EAS_SCHEMA, "0x" + "00" * 20, True)
    )
    uid = schema_registry.events.Registered().process_receipt(receipt)[0]["args"]["uid"]
    now = int(w3.eth.get_block("latest")["timestamp"])

    def request() -> tuple[Any, ...]:
        data = encode(
            ["bytes32", "address", "uint16", "bytes32", "uint64", "uint256", "bytes32", "uint32"],
            [
                secrets.token_bytes(32),
                sender.address,
                0x10DE,
                model_bytes("nvidia-h100-sxm5-80gb"),
                85899345920,
                (61_234 << 96) | (912_345 << 64) | (3_187 << 32) | 1_812_345,
                secrets.token_bytes(32),
                now - 30,
            ],
        )
        return (deployer.address, now + 86400, True, bytes(32), data, 0)

    rows = []
    gas = transact(w3, sender, eas.functions.attest((uid, request())))["gasUsed"]
    rows.append(("attest", f"{gas:,}"))
    for n in (10, 100):
        calls = [(uid, [request() for _ in range(n)])]
        gas = transact(w3, sender, eas.functions.multiAttest(calls))["gasUsed"]
        rows.append((f"multiAttest, batch {n}", f"{gas / n:,.0f}"))
    return rows


if __name__ == "__main__":
    main()
