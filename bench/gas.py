"""Gas of every ProviderRegistry call on anvil (Prague), beside a naive storage-heavy registry.

Run: .venv/bin/python bench/gas.py
Targets: register <= 90,000; authorizeAgent <= 55,000; registerWithSig <= 100,000.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _solidity import compile_bench_contract  # noqa: E402

from depin import artifacts  # noqa: E402
from depin.chain import ANVIL_KEYS, Anvil, connect, deploy, transact  # noqa: E402
from depin.deploy import deploy_registry  # noqa: E402
from depin.registry import Profile, RegistryClient  # noqa: E402
from depin.toolchain import configure_environment  # noqa: E402

PROFILE = Profile(
    "Acme GPU Cloud",
    "eu-west-1",
    "https://gpus.acme.example",
    "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    bytes.fromhex("11" * 32),
)
TARGETS = {"register": 90_000, "authorizeAgent": 55_000, "registerWithSig": 100_000}


def _compile_naive() -> tuple[list[dict[str, Any]], str]:
    return compile_bench_contract("NaiveRegistry", optimizer_runs=10_000)


def main() -> None:
    configure_environment()
    console = Console()
    rows: list[tuple[str, int, int | None]] = []
    with Anvil() as node, Progress(console=console, transient=True) as progress:
        task = progress.add_task("measuring gas", total=14)
        w3 = connect(node.rpc_url)
        deployer: LocalAccount = Account.from_key(ANVIL_KEYS[0])
        relayer: LocalAccount = Account.from_key(ANVIL_KEYS[1])
        registry = RegistryClient(
            w3, deploy_registry(w3, deployer, Path("/tmp/depin-bench-gas")).address
        )
        artifacts.load_all()

        def fresh() -> LocalAccount:
            account: LocalAccount = Account.from_key(secrets.token_bytes(32))
            w3.provider.make_request("anvil_setBalance", [account.address, hex(10**19)])
            return account

        def step(name: str, receipt: Any, naive: int | None = None) -> None:
            rows.append((name, int(receipt["gasUsed"]), naive))
            progress.advance(task)

        naive_abi, naive_bytecode = _compile_naive()
        naive = w3.eth.contract(
            address=deploy(w3, deployer, naive_abi, naive_bytecode)["contractAddress"],
            abi=naive_abi,
        )
        naive_provider = fresh()
        naive_register = transact(w3, naive_provider, naive.functions.register(PROFILE.as_tuple()))
        naive_agent = transact(
            w3, naive_provider, naive.functions.authorizeAgent(fresh().address, 2**40)
        )

        provider = fresh()
        step("register", registry.register(provider, PROFILE), int(naive_register["gasUsed"]))
        step("updateProfile", registry.update_profile(provider, PROFILE))
        agent = fresh().address
        now = int(w3.eth.get_block("latest")["timestamp"])
        step(
            "authorizeAgent",
            registry.authorize_agent(provider, agent, now + 86400),
            int(naive_agent["gasUsed"]),
        )
        step("authorizeAgent (renew)", registry.authorize_agent(provider, agent, now + 2 * 86400))
        step("revokeAgent", registry.revoke_agent(provider, agent))
        step("deregister", registry.deregister(provider))

        signer = fresh()

        def relay(name: str, message: Any) -> None:
            signature = message.sign(signer, registry.domain)
            step(name, registry.submit_signed(relayer, message, signature))

        relay("registerWithSig", registry.registration(signer.address, PROFILE))
        relay("updateProfileWithSig", registry.profile_update(signer.address, PROFILE))
        agent = fresh().address
        relay(
            "authorizeAgentWithSig", registry.agent_authorization(signer.address, agent, now + 9999)
        )
        relay("revokeAgentWithSig", registry.agent_revocation(signer.address, agent))
        relay("deregisterWithSig", registry.deregistration(signer.address))
        progress.update(task, completed=14)

    table = Table(title="ProviderRegistry gas (anvil, Prague, solc 0.8.30, 10,000 runs)")
    table.add_column("call")
    table.add_column("gas", justify="right")
    table.add_column("target", justify="right")
    table.add_column("naive registry (strings in storage)", justify="right")
    failed = False
    for name, gas, baseline in rows:
        target = TARGETS.get(name)
        ok = target is None or gas <= target
        failed |= not ok
        table.add_row(
            name,
            f"{gas:,}",
            (f"<= {target:,} " + ("ok" if ok else "MISSED")) if target else "",
            f"{baseline:,}" if baseline else "",
        )
    console.print(table)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
