"""``depin up``: the whole system on one machine with embedded defaults.

anvil (chain state kept in the data folder), the contracts, three oracle nodes with t = 2, the
indexer on SQLite, the API with its web page, an agent for this host and, with ``--demo-fleet
N``, N agents replaying recorded GPU hosts under demo providers. Each role runs as its own
process (``depin <role> ...``), exactly as it would on separate machines; logs go to
``HOME/logs``. A second ``depin up`` reuses the data folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from web3 import Web3
from web3.types import RPCEndpoint

from depin import deployments, logs
from depin._cli.supervisor import (
    EssentialServiceExited,
    Service,
    Supervisor,
    child_environment,
    http_ready,
)
from depin.chain import ANVIL_KEYS, Anvil, connect
from depin.deploy import deploy_registry_and_oracle
from depin.errors import DeploymentNotFoundError
from depin.keys import create_keystore
from depin.registry import Profile, RegistryClient, Status
from depin.settings import CommonSettings
from depin.toolchain import PROJECT_ROOT

# Local-only secrets: the stack runs on a dev chain with anvil's public test keys.
DEV_PASSWORD = "local-dev-password"
ORACLE_INDICES = (2, 3, 4)
RELAYER_INDEX = 1
LOCAL_PROVIDER_INDEX = 5
SIMULATED_METADATA_URI = "depin:simulated"
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "discovery"
HEALTH_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "health"
# (backend, recording, health recording or None) for demo agents, in turn. The H100 host's
# health recording has trouble injected into six of its GPUs, so the demo shows each status.
DEMO_HOSTS = (
    ("nvml", "nvml_8x_h100_sxm.json", "nvml_health_8x_h100.json"),
    ("nvml", "nvml_4x_a100_sxm4_80gb.json", None),
    ("amdsmi", "amdsmi_8x_mi300x.json", None),
    ("nvml", "nvml_1x_rtx4090.json", None),
    ("xpu-smi", "xpusmi_4x_max1550.json", None),
)
DEMO_REGIONS = ("eu-west", "us-east", "ap-southeast", "us-west", "eu-central")


@dataclass(frozen=True)
class Ports:
    chain: int
    api: int
    oracle_base: int

    def oracle(self, i: int) -> int:
        return self.oracle_base + i


def _depin(*args: str) -> list[str]:
    return [sys.executable, "-m", "depin", *args]


def _write_secret(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def _ensure_keystore(path: Path, key: bytes | None = None) -> str:
    if path.exists():
        return str(to_checksum_address("0x" + json.loads(path.read_text())["address"][-40:]))
    return create_keystore(path, DEV_PASSWORD, private_key=key).address


def _deployed(w3: Web3, folder: Path, name: str) -> str | None:
    try:
        address = deployments.load(folder, w3.eth.chain_id, name).address
    except DeploymentNotFoundError:
        return None
    return address if w3.eth.get_code(to_checksum_address(address)) else None


def _ensure_contracts(w3: Web3, home: Path, epoch_length: int) -> tuple[str, str, bool]:
    """Deploys what the chain lacks; returns (registry, oracle, whether anything was new)."""
    folder = home / "deployments"
    registry = _deployed(w3, folder, "ProviderRegistry")
    oracle = _deployed(w3, folder, "AttestationOracle")
    if registry and oracle:
        return registry, oracle, False
    deployer: LocalAccount = Account.from_key(ANVIL_KEYS[0])
    oracles = [Account.from_key(ANVIL_KEYS[i]).address for i in ORACLE_INDICES]
    made = deploy_registry_and_oracle(w3, deployer, folder, oracles, epoch_length=epoch_length)
    return made[0].address, made[1].address, True


def _ensure_provider(
    client: RegistryClient, account: LocalAccount, profile: Profile, agent: str
) -> None:
    if client.record(account.address).status is Status.NONE:
        client.register(account, profile)
    expiry = client.agent_expiry(account.address, agent)
    if expiry < time.time() + 7 * 86400:
        client.authorize_agent(account, agent, int(time.time()) + 30 * 86400)


def _demo_provider(w3: Web3, i: int) -> LocalAccount:
    account: LocalAccount = Account.from_key(keccak(text=f"depin demo provider {i}"))
    if w3.eth.get_balance(account.address) < 10**18:
        w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [account.address, hex(10**20)])
    return account


def _host_gpus(env: dict[str, str]) -> tuple[int, list[str]]:
    """How many GPUs this host's discovery finds, and each backend's reason."""
    done = subprocess.run(
        _depin("agent", "discover", "--json"),
        capture_output=True,
        text=True,
        env=child_environment(env),
        timeout=120,
    )
    try:
        inventory = json.loads(done.stdout)
    except ValueError:
        return 0, [done.stderr.strip() or "discovery printed nothing"]
    reasons = [f"{b.get('backend')}: {b.get('reason')}" for b in inventory.get("backends", [])]
    return len(inventory.get("gpus", [])), reasons


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@click.command()
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    default=CommonSettings().home,
    show_default=True,
    envvar="DEPIN_HOME",
    help="Data folder; a second `depin up` reuses it (chain state included).",
)
@click.option("--port", default=8545, show_default=True, help="anvil's port on 127.0.0.1.")
@click.option("--api-port", default=8000, show_default=True, help="The API's port.")
@click.option("--oracle-port", default=8600, show_default=True, help="First oracle's port.")
@click.option("--block-time", type=float, default=1.0, show_default=True, help="Seconds per block.")
@click.option("--epoch-length", type=int, default=60, show_default=True, help="Liveness epoch, s.")
@click.option(
    "--demo-fleet",
    type=click.IntRange(0, 50),
    default=0,
    show_default=True,
    help="Also run N simulated agents replaying recorded GPU hosts (marked simulated).",
)
@click.option("--no-agent", is_flag=True, help="Do not start an agent for this host.")
@click.option("--ready-only", is_flag=True, help="Exit once everything is ready (for checks).")
@logs.option
def up(
    home: Path,
    port: int,
    api_port: int,
    oracle_port: int,
    block_time: float,
    epoch_length: int,
    demo_fleet: int,
    no_agent: bool,
    ready_only: bool,
    log_format: str | None,
) -> None:
    """Start the chain, contracts, oracles, indexer, API and agents; run until Ctrl-C."""
    console = Console()
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    ports = Ports(port, api_port, oracle_port)
    started = time.monotonic()
    supervisor = Supervisor(
        home / "logs", report=lambda line: console.print(line, style="yellow", markup=False)
    )
    # SIGTERM stops the stack the way Ctrl-C does, during start-up too.
    signal.signal(signal.SIGTERM, _interrupt)
    chain_lost = False
    node = Anvil(port=port, block_time=block_time, state_path=home / "chain" / "anvil-state.json")
    rpc = node.rpc_url
    base_env = {"DEPIN_HOME": str(home), "DEPIN_RPC_URL": rpc, "PYTHONUNBUFFERED": "1"}
    if log_format:  # every service logs in it (their --log-format reads DEPIN_LOG_FORMAT)
        base_env[logs.ENV] = log_format
    oracle_urls = [f"http://127.0.0.1:{ports.oracle(i)}" for i in range(len(ORACLE_INDICES))]
    steps = 5 + (1 if not no_agent else 0) + demo_fleet
    notes: list[str] = []
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("starting anvil", total=steps)

            def step(description: str) -> None:
                progress.update(task, advance=1, description=description)

            node.start()
            assert node.process is not None
            supervisor.adopt("anvil", node.process, essential=True)
            w3 = connect(rpc)
            step("deploying contracts")
            registry_address, _, fresh = _ensure_contracts(w3, home, epoch_length)
            if fresh:
                # A new chain: state derived from an earlier chain would be wrong.
                (home / "indexer.sqlite").unlink(missing_ok=True)
                for stale in (home / "oracle").glob("*/oracle.sqlite3*"):
                    stale.unlink()
            client = RegistryClient(w3, registry_address)

            step("starting oracles, indexer and API")
            services: list[Service] = []
            oracle_env = {
                **base_env,
                "DEPIN_ORACLE_PASSWORD": DEV_PASSWORD,
                "DEPIN_ORACLE_ALLOW_SIMULATED": "true",
                # each checked capability document goes on to the local API
                "DEPIN_ORACLE_INVENTORY_URL": f"http://127.0.0.1:{api_port}",
            }
            for i, index in enumerate(ORACLE_INDICES):
                name = f"oracle-{i}"
                _ensure_keystore(
                    home / "oracle" / name / "key.json", bytes.fromhex(ANVIL_KEYS[index][2:])
                )
                peers = [u for j, u in enumerate(oracle_urls) if j != i]
                argv = _depin("oracle", "serve", "--name", name, "--port", str(ports.oracle(i)))
                for peer in peers:
                    argv += ["--peer", peer]
                services.append(
                    Service(name, argv, http_ready(f"{oracle_urls[i]}/v1/info"), env=oracle_env)
                )

            subprocess.run(
                _depin("indexer", "migrate"),
                env=child_environment(base_env),
                check=True,
                capture_output=True,
                timeout=120,
            )
            services.append(
                Service(
                    "indexer",
                    _depin("indexer", "run", "--no-progress"),
                    env=base_env,
                )
            )

            relayer_keystore = home / "api" / "relayer.json"
            _ensure_keystore(relayer_keystore, bytes.fromhex(ANVIL_KEYS[RELAYER_INDEX][2:]))
            api_env = {
                **base_env,
                "DEPIN_API_PORT": str(api_port),
                # SIWE messages name the origin the API is actually reachable at
                "DEPIN_API_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
                "DEPIN_API_RELAYER_KEYSTORE": str(relayer_keystore),
                "DEPIN_API_RELAYER_PASSWORD_FILE": str(
                    _write_secret(home / "api" / "relayer.pass", DEV_PASSWORD)
                ),
                # webhook receivers on this machine (a dev stack's own listeners) are allowed
                "DEPIN_API_ALERTS_ALLOW_PRIVATE_URLS": "true",
            }
            api_url = f"http://127.0.0.1:{api_port}"
            services.append(
                Service(
                    "api", _depin("api", "serve"), http_ready(f"{api_url}/v1/health"), env=api_env
                )
            )
            supervisor.start_together(services)

            password_file = _write_secret(home / "agent" / "password", DEV_PASSWORD)

            def start_agent(name: str, keystore: Path, provider: str, extra: list[str]) -> None:
                argv = _depin(
                    "agent", "run",
                    "--keystore", str(keystore),
                    "--password-file", str(password_file),
                    "--provider", provider,
                )  # fmt: skip
                for url in oracle_urls:
                    argv += ["--oracle", url]
                supervisor.start(Service(name, argv + extra, env=base_env))

            if not no_agent:
                step("starting this host's agent")
                gpus, reasons = _host_gpus(base_env)
                provider: LocalAccount = Account.from_key(ANVIL_KEYS[LOCAL_PROVIDER_INDEX])
                keystore = home / "agent" / "key.json"
                agent = _ensure_keystore(keystore)
                _ensure_provider(client, provider, Profile("This host", "local"), agent)
                if gpus:
                    notes.append(f"this host: {gpus} GPU(s), agent {agent}")
                else:
                    notes.append("this host has no GPU the agent can attest: " + "; ".join(reasons))
                start_agent("agent", keystore, provider.address, [])

            for i in range(demo_fleet):
                backend, recording, health = DEMO_HOSTS[i % len(DEMO_HOSTS)]
                step(f"starting simulated agent {i + 1}/{demo_fleet}")
                provider = _demo_provider(w3, i)
                keystore = home / "demo" / f"agent-{i}.json"
                agent = _ensure_keystore(keystore, keccak(text=f"depin demo agent {i}"))
                profile = Profile(
                    f"Demo provider {i + 1} (simulated)",
                    DEMO_REGIONS[i % len(DEMO_REGIONS)],
                    "",
                    SIMULATED_METADATA_URI,
                )
                _ensure_provider(client, provider, profile, agent)
                start_agent(
                    f"demo-agent-{i}",
                    keystore,
                    provider.address,
                    [
                        "--replay",
                        f"{backend}={FIXTURES / recording}",
                        "--simulated",
                        *(["--health-replay", str(HEALTH_FIXTURES / health)] if health else []),
                    ],
                )
            progress.update(task, completed=steps, description="ready")

        elapsed = time.monotonic() - started
        console.print(f"[bold green]ready[/] in {elapsed:.1f}s")
        console.print(f"  web page   {api_url}/   (providers: {api_url}/onboard)")
        console.print(f"  API docs   {api_url}/docs")
        console.print(f"  chain      {rpc} (chain id {w3.eth.chain_id})")
        console.print(f"  oracles    {', '.join(oracle_urls)} (t = 2)")
        for note in notes:
            console.print(f"  {note}")
        console.print(f"  data       {home} (logs in {home / 'logs'})")
        if demo_fleet:
            console.print(
                f"  demo fleet {demo_fleet} simulated agents, marked simulated everywhere"
            )
        console.print("  Ctrl-C stops everything")
        if ready_only:
            return

        supervisor.run(lambda: False)
    except KeyboardInterrupt:
        pass
    except EssentialServiceExited as exc:
        console.print(f"[red]{exc}[/]")
        chain_lost = True
    finally:
        # One stop, bounded in time: a second Ctrl-C must not cut it short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        console.print("stopping")
        supervisor.stop_all()
        node.stop()
    if chain_lost:
        raise SystemExit(1)
