"""Liveness at fleet scale: signed heartbeats over real HTTP from thousands of agents to three
oracle processes (t = 2), one record per epoch on-chain, and the GPUs online in the API.

Run: .venv/bin/python bench/heartbeats.py [--agents 10000] [--epoch-length 120] [--epochs 3]
     .venv/bin/python bench/heartbeats.py --quick            # 500 agents, 10-second epochs

Set-up, on anvil with automine off and one ``evm_mine`` per group of transactions: the contracts
with a short epoch, a few providers with many agents each (1-8 GPUs per agent, drawn from a
seeded generator), every agent authorized by an ``authorizeAgentWithSig`` its provider signed
off-chain (relayed 200 at a time through the test-only ``TestBatchForwarder``), every GPU attested
by ``submit`` batches of 200 co-signed by two oracle keys. Nothing is cached between runs.

Then three ``depin oracle serve`` processes, the indexer and the API, started as ``depin up``
starts them, and a load generator that sends as the agent daemon does: each agent a heartbeat to
each oracle separately, three times per epoch at its own phase, signed once per epoch, with a
5-second timeout, over HTTP/1.1 keep-alive connections on the loopback. Latency is from the write
of a request to the end of its response. Each epoch is then checked: recorded on-chain, and every
GPU online in ``/v1/gpus`` within one epoch + 10 s after it closes. A second phase saturates one
oracle; its heartbeats per second per core divide the heartbeats it acknowledged by the CPU time
its process used (``/proc/PID/stat``).

Targets: nothing lost (every heartbeat sent acknowledged), p99 < 1 s, every epoch recorded with
every GPU online in the API within one epoch + 10 s, >= 2,000 heartbeats/s per oracle core at
the ceiling. The oracle no longer offers the old per-heartbeat chain reads, so the earlier design
is shown with the figures an earlier run measured (1,000 agents), not measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from web3 import Web3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from depin import artifacts  # noqa: E402
from depin._cli.supervisor import Service, Supervisor, http_ready  # noqa: E402
from depin.attestation import (  # noqa: E402
    ALL_WELL,
    GpuAttestation,
    GpuStatus,
    Heartbeat,
    gpu_key,
    model_bytes,
)
from depin.attestation_client import AttestationClient  # noqa: E402
from depin.chain import ANVIL_KEYS, Anvil, connect, deploy, free_port  # noqa: E402
from depin.crypto import DigestSigner, keccak  # noqa: E402
from depin.deploy import deploy_registry_and_oracle  # noqa: E402
from depin.keys import create_keystore  # noqa: E402
from depin.messages import AgentAuthorization  # noqa: E402
from depin.registry import Profile, RegistryClient  # noqa: E402

PASSWORD = "bench-oracle-password"
ORACLE_INDICES = (2, 3, 4)  # anvil test accounts, as `depin up` uses them
DEPLOYER_INDEX = 0
RELAYER_INDEX = 1
AGENTS_PER_PROVIDER = 500
BATCH = 200  # calls per forwarded authorization transaction, entries per `submit`
GROUP_GAS = 400_000_000  # gas of the transactions sent before each `evm_mine`
BLOCK_GAS_LIMIT = 1_000_000_000
AGENT_TIMEOUT_S = 5.0  # the agent daemon's timeout per oracle
LIVENESS_TOPIC = "0x" + keccak(b"LivenessRecorded(uint64,uint256,bytes,bytes,bytes)").hex()
REFERENCE = {  # the per-heartbeat chain reads design, measured in an earlier run
    "agents": 1_000,
    "accepted": "57%",
    "p50": "22 s",
    "p99": "113 s",
    "online": "none",
}


# --------------------------------------------------------------------------- the fleet


@dataclass
class Agent:
    account: LocalAccount
    signer: DigestSigner
    provider: str
    keys: tuple[bytes, ...]
    status: bytes
    reasons: list[str]
    phase: float


@dataclass
class Fleet:
    providers: list[LocalAccount]
    agents: list[Agent]

    @property
    def gpus(self) -> int:
        return sum(len(a.keys) for a in self.agents)

    def count(self, flag: GpuStatus) -> int:
        return sum(1 for a in self.agents for s in a.status if s & flag)


def make_fleet(count: int, seed: int) -> Fleet:
    """``count`` agents with 1-8 GPUs each, ``AGENTS_PER_PROVIDER`` per provider; 2% of GPUs
    report busy and 1% unhealthy, so the record's three bitmaps all carry information."""
    rng = random.Random(seed)
    providers: list[LocalAccount] = [
        Account.from_key(keccak(f"depin bench provider {seed} {p}".encode()))
        for p in range(math.ceil(count / AGENTS_PER_PROVIDER))
    ]
    agents = []
    for i in range(count):
        account: LocalAccount = Account.from_key(keccak(f"depin bench agent {seed} {i}".encode()))
        n = rng.randint(1, 8)
        status, reasons = [], []
        for _ in range(n):
            draw = rng.random()
            if draw < 0.02:
                status.append(GpuStatus.HEALTHY)
                reasons.append("busy:1_processes")
            elif draw < 0.03:
                status.append(GpuStatus.AVAILABLE)
                reasons.append("xid:79")
            else:
                status.append(ALL_WELL)
                reasons.append("")
        agents.append(
            Agent(
                account=account,
                signer=DigestSigner(account),
                provider=providers[i // AGENTS_PER_PROVIDER].address,
                keys=tuple(gpu_key("nvidia", f"GPU-bench-{seed}-{i}-{j}") for j in range(n)),
                status=bytes(status),
                reasons=reasons,
                phase=rng.random(),
            )
        )
    return Fleet(providers, agents)


# --------------------------------------------------------------------------- chain set-up


class Sender:
    """Raw transactions from one account with local nonces, mined in groups by ``evm_mine``."""

    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account
        self.nonce = w3.eth.get_transaction_count(account.address)
        self.chain_id = w3.eth.chain_id
        self.pending: list[bytes] = []
        self.pending_gas = 0

    def send(self, call: Any, gas: int) -> None:
        tx = call.build_transaction(
            {
                "from": self.account.address,
                "nonce": self.nonce,
                "gas": gas,
                "chainId": self.chain_id,
                "maxFeePerGas": 100 * 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        signed = self.account.sign_transaction(tx)
        self.pending.append(bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)))
        self.nonce += 1
        self.pending_gas += gas

    def mine(self, timeout: float = 120.0) -> list[Any]:
        """Mines until every pending transaction is in a block; returns their receipts."""
        receipts: dict[bytes, Any] = {}
        deadline = time.monotonic() + timeout
        while len(receipts) < len(self.pending):
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(self.pending) - len(receipts)} transactions not mined")
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            for tx in self.pending:
                if tx not in receipts:
                    with contextlib.suppress(Exception):
                        receipts[tx] = self.w3.eth.get_transaction_receipt(tx)  # type: ignore[arg-type]
        failed = [r for r in receipts.values() if r["status"] != 1]
        if failed:
            raise SystemExit(f"{len(failed)} set-up transactions reverted, e.g. {failed[0]}")
        out = [receipts[tx] for tx in self.pending]
        self.pending, self.pending_gas = [], 0
        return out


@dataclass
class Chain:
    anvil: Anvil
    w3: Web3
    registry: RegistryClient
    client: AttestationClient
    start_block: int


def set_up_chain(
    home: Path, fleet: Fleet, epoch_length: int, console: Console, progress: Progress
) -> Chain:
    anvil = Anvil(extra_args=["--gas-limit", str(BLOCK_GAS_LIMIT)]).start()
    w3 = connect(anvil.rpc_url)
    deployer: LocalAccount = Account.from_key(ANVIL_KEYS[DEPLOYER_INDEX])
    relayer: LocalAccount = Account.from_key(ANVIL_KEYS[RELAYER_INDEX])
    oracles = [Account.from_key(ANVIL_KEYS[i]) for i in ORACLE_INDICES]
    registry_at, deployment = deploy_registry_and_oracle(
        w3, deployer, home / "deployments", [o.address for o in oracles], epoch_length=epoch_length
    )
    registry = RegistryClient(w3, registry_at.address)
    client = AttestationClient(w3, deployment.address)
    forwarder_artifact = artifacts.load("TestBatchForwarder")
    forwarder = w3.eth.contract(
        address=deploy(w3, deployer, forwarder_artifact.abi, forwarder_artifact.bytecode)[
            "contractAddress"
        ],
        abi=forwarder_artifact.abi,
    )
    w3.provider.make_request("anvil_setBalance", [relayer.address, hex(10**24)])  # type: ignore[arg-type]

    task = progress.add_task("registering providers", total=len(fleet.providers))
    for i, provider in enumerate(fleet.providers):
        w3.provider.make_request("anvil_setBalance", [provider.address, hex(10**20)])  # type: ignore[arg-type]
        registry.register(provider, Profile(f"bench provider {i}", "eu-west"))
        progress.advance(task)

    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    sender = Sender(w3, relayer)
    now = int(time.time())
    expires = now + 30 * 86400
    task = progress.add_task("authorizing agents (signed off-chain)", total=len(fleet.agents))
    nonces: Counter[str] = Counter()
    provider_signers = {p.address: DigestSigner(p) for p in fleet.providers}
    calls: list[str] = []

    def flush_authorizations() -> None:
        if calls:
            sender.send(
                forwarder.functions.forward(registry.address, list(calls)), 80_000 * len(calls)
            )
            progress.advance(task, len(calls))
            calls.clear()
        if sender.pending_gas >= GROUP_GAS:
            sender.mine()

    for agent in fleet.agents:
        nonce = nonces[agent.provider]
        nonces[agent.provider] += 1
        message = AgentAuthorization(
            agent.provider, agent.account.address, expires, nonce, now + 86400
        )
        signature = provider_signers[agent.provider].sign(message.digest(registry.domain))
        calls.append(registry.with_sig_call(message, signature)._encode_transaction_data())
        if len(calls) == BATCH:
            flush_authorizations()
    flush_authorizations()
    sender.mine()

    version = client.config_version()
    signers = [DigestSigner(o) for o in sorted(oracles, key=lambda a: int(a.address, 16))[:2]]
    signer_addresses = sorted((o.address for o in oracles), key=lambda a: int(a, 16))[:2]
    model = model_bytes("nvidia-h100-sxm5-80gb")
    task = progress.add_task("attesting GPUs (submit, t = 2)", total=fleet.gpus)
    entries: list[tuple[GpuAttestation, bytes]] = []
    rejected = 0

    def flush_attestations() -> None:
        nonlocal rejected
        if entries:
            digest = client.batch_digest(version, [m for m, _ in entries])
            sigs = [(a, s.sign(digest)) for a, s in zip(signer_addresses, signers, strict=True)]
            sender.send(
                client.submit_call(version, list(entries), sigs), 70_000 * len(entries) + 200_000
            )
            progress.advance(task, len(entries))
            entries.clear()
        if sender.pending_gas >= GROUP_GAS:
            rejected += sum(len(client.rejections(r)) for r in sender.mine())

    for i, agent in enumerate(fleet.agents):
        for j, key in enumerate(agent.keys):
            message = GpuAttestation(
                agent.provider, agent.account.address, key, 0x10DE, model, 85899345920,
                61_234, 912_345, 3_187, 1_812_345, keccak(f"challenge {i} {j}".encode()),
                now - 30, now + 7 * 86400,
            )  # fmt: skip
            entries.append((message, agent.signer.sign(message.digest(client.domain))))
            if len(entries) == BATCH:
                flush_attestations()
    flush_attestations()
    rejected += sum(len(client.rejections(r)) for r in sender.mine())
    if rejected or client.gpu_count() != fleet.gpus:
        raise SystemExit(f"{rejected} attestations rejected; {client.gpu_count()} GPUs attested")
    # From here the chain makes a block every second, as a live chain would.
    w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]
    return Chain(anvil, w3, registry, client, int(w3.eth.block_number))


# --------------------------------------------------------------------------- the services


@dataclass
class Stack:
    supervisor: Supervisor
    oracles: list[Service]
    oracle_ports: list[int]
    api_url: str


def start_stack(home: Path, chain: Chain, progress: Progress) -> Stack:
    """Three oracles (t = 2), the indexer and the API, each its own process as `depin up` runs
    them; returns once each answers its readiness check."""
    task = progress.add_task("starting 3 oracles, the indexer and the API", total=None)
    depin = [sys.executable, "-m", "depin"]
    base = {"DEPIN_HOME": str(home), "DEPIN_RPC_URL": chain.anvil.rpc_url, "PYTHONUNBUFFERED": "1"}
    supervisor = Supervisor(home / "logs")
    ports = [free_port() for _ in ORACLE_INDICES]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    oracle_env = {**base, "DEPIN_ORACLE_PASSWORD": PASSWORD, "DEPIN_ORACLE_POLL_S": "0.2"}
    services = []
    for i, index in enumerate(ORACLE_INDICES):
        name = f"oracle-{i}"
        create_keystore(
            home / "oracle" / name / "key.json",
            PASSWORD,
            private_key=bytes.fromhex(ANVIL_KEYS[index][2:]),
        )
        argv = [*depin, "oracle", "serve", "--name", name, "--port", str(ports[i])]
        for j, url in enumerate(urls):
            if j != i:
                argv += ["--peer", url]
        services.append(
            Service(name, argv, http_ready(urls[i] + "/healthz"), oracle_env, ready_timeout=300)
        )
    subprocess.run([*depin, "indexer", "migrate"], env={**os.environ, **base}, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    services.append(Service("indexer", [*depin, "indexer", "run", "--no-progress"], env=base))
    services.append(
        Service(
            "api",
            [*depin, "api", "serve", "--log-level", "warning"],
            http_ready(api_url + "/v1/health"),
            {**base, "DEPIN_API_PORT": str(api_port)},
            ready_timeout=300,
        )
    )
    supervisor.start_together(services)
    progress.update(task, total=1, completed=1)
    return Stack(supervisor, services[:3], ports, api_url)


def wait_indexed(stack: Stack, gpus: int, progress: Progress, timeout: float) -> None:
    """Until the API serves every attested GPU (the indexer has caught up)."""
    task = progress.add_task("indexer catching up (GPUs in /v1/stats)", total=gpus)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            seen = int(httpx.get(stack.api_url + "/v1/stats", timeout=10).json()["gpus"])
            progress.update(task, completed=seen)
            if seen >= gpus:
                return
        time.sleep(1.0)
    raise SystemExit(f"the API did not serve {gpus} GPUs within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its threads, from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        rest = handle.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the load


def heartbeat_body(agent: Agent, epoch: int, domain: Any) -> bytes:
    """A heartbeat as the agent daemon sends it (``depin.wire.HeartbeatRequest``), signed."""
    message = Heartbeat(agent.provider, agent.account.address, agent.keys, epoch, agent.status)
    signature = agent.signer.sign(message.digest(domain))
    return json.dumps(
        {
            "provider": agent.provider,
            "agent": agent.account.address,
            "gpuKeys": ["0x" + k.hex() for k in agent.keys],
            "epoch": epoch,
            "status": "0x" + agent.status.hex(),
            "signature": "0x" + signature.hex(),
            "reasons": agent.reasons,
        },
        separators=(",", ":"),
    ).encode()


@dataclass
class Tally:
    """What one oracle did with the heartbeats of one phase."""

    sent: int = 0
    acked: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    #: when each request of ``latencies`` was written (wall clock), to place the slow ones
    sent_at: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0

    def merge(self, other: Tally) -> None:
        self.sent += other.sent
        self.acked += other.acked
        self.refused.update(other.refused)
        self.failed.update(other.failed)
        self.latencies.extend(other.latencies)
        self.sent_at.extend(other.sent_at)
        self.lags.extend(other.lags)
        self.cpu_s += other.cpu_s
        self.wall_s = max(self.wall_s, other.wall_s)


class Connection:
    """One HTTP/1.1 keep-alive connection to an oracle, as an agent's client keeps one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.head = (
            f"POST /v1/heartbeats HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def post(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        """One request and its response within ``timeout``. A kept-alive connection the server
        has closed meanwhile (uvicorn closes idle ones after 5 s) is replaced, as httpx's pool
        does; one that fails before any byte of the answer is retried once on a new connection,
        which is safe because a heartbeat is idempotent."""
        async with asyncio.timeout(timeout):
            reused = self.writer is not None
            if self.reader is not None and (self.reader.at_eof() or self.writer.is_closing()):  # type: ignore[union-attr]
                self.close()
                reused = False
            try:
                return await self._exchange(body)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                partial = isinstance(exc, asyncio.IncompleteReadError) and exc.partial
                if not reused or partial:
                    raise
                self.close()
                self.reconnects += 1
                return await self._exchange(body)

    async def _exchange(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length) if length else b""
        if b"connection: close" in header.lower():
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def send_one(connection: Connection, body: bytes, tally: Tally) -> None:
    tally.sent += 1
    started = time.perf_counter()
    written = time.time()
    try:
        status, payload = await connection.post(body, AGENT_TIMEOUT_S)
    except TimeoutError:
        connection.close()  # a late answer would otherwise be read as the next one's
        tally.failed["timeout (5 s)"] += 1
        return
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        connection.close()
        tally.failed[f"connection {type(exc).__name__}"] += 1
        return
    tally.latencies.append(time.perf_counter() - started)
    tally.sent_at.append(written)
    if 200 <= status < 300:
        tally.acked += 1
        return
    try:
        code = str(json.loads(payload).get("code") or status)
    except ValueError:
        code = str(status)
    tally.refused[f"{status} {code}"] += 1


async def offered_load(
    fleet: Fleet,
    bodies: dict[int, list[bytes]],
    ports: Sequence[int],
    epoch_length: int,
    sends: int,
    connections: int,
    progress: Progress,
) -> list[Tally]:
    """Each agent's heartbeat to each oracle ``sends`` times per epoch at the agent's phase;
    ``connections`` keep-alive connections per oracle carry them."""
    schedule = sorted(
        (epoch * epoch_length + (r + agent.phase) * epoch_length / sends, epoch, i)
        for epoch in bodies
        for i, agent in enumerate(fleet.agents)
        for r in range(sends)
    )
    tallies = [Tally() for _ in ports]
    queues: list[asyncio.Queue[tuple[float, bytes] | None]] = [asyncio.Queue() for _ in ports]
    task = progress.add_task(
        f"heartbeats to {len(ports)} oracles over {len(bodies)} epochs",
        total=len(schedule) * len(ports),
    )

    async def worker(k: int) -> None:
        connection = Connection(ports[k])
        while (job := await queues[k].get()) is not None:
            due, body = job
            tallies[k].lags.append(max(0.0, time.time() - due))
            await send_one(connection, body, tallies[k])
            progress.advance(task)
        connection.close()

    workers = [
        asyncio.create_task(worker(k)) for k in range(len(ports)) for _ in range(connections)
    ]
    for due, epoch, i in schedule:
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        for queue in queues:
            queue.put_nowait((due, bodies[epoch][i]))
    for queue in queues:
        for _ in range(connections):
            queue.put_nowait(None)
    # Bounded: whatever is still queued after the drain time is counted as not sent in time.
    _, late = await asyncio.wait(workers, timeout=AGENT_TIMEOUT_S * 4 + 30)
    for w in late:
        w.cancel()
    for k, queue in enumerate(queues):
        while not queue.empty():
            if queue.get_nowait() is not None:
                tallies[k].sent += 1
                tallies[k].failed["not sent (generator backlog)"] += 1
    return tallies


async def ceiling(port: int, bodies: list[bytes], connections: int, seconds: float) -> Tally:
    """One oracle under ``connections`` concurrent senders for ``seconds``."""
    tally = Tally()
    stop = time.monotonic() + seconds

    async def worker(offset: int) -> None:
        connection = Connection(port)
        n = offset
        while time.monotonic() < stop:
            await send_one(connection, bodies[n % len(bodies)], tally)
            n += connections
        connection.close()

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return tally


# --------------------------------------------------------------------------- the epochs


@dataclass
class EpochCheck:
    epoch: int
    recorded_after_s: float | None = None
    onchain: tuple[int, int, int] | None = None  # online, available, healthy
    api_after_s: float | None = None
    api_online: int | None = None
    api_note: str = ""

    def met(self, gpus: int, limit_s: float) -> bool:
        return (
            self.recorded_after_s is not None
            and self.onchain is not None
            and self.onchain[0] == gpus
            and self.api_after_s is not None
            and self.api_after_s <= limit_s
            and self.api_online == gpus
        )


def popcount(bitmap: bytes) -> int:
    return sum(bin(b).count("1") for b in bitmap)


async def check_epoch(
    check: EpochCheck,
    epoch_length: int,
    gpus: int,
    rpc: str,
    contract: str,
    from_block: int,
    api: str,
) -> None:
    """Polls the chain and the API until epoch ``check.epoch`` is recorded and every GPU is
    online in the API, or one epoch + 10 s after it closed."""
    closes = (check.epoch + 1) * epoch_length
    deadline = closes + epoch_length + 10
    topic = "0x" + check.epoch.to_bytes(32, "big").hex()
    await asyncio.sleep(max(0.0, closes - time.time()))
    async with httpx.AsyncClient(timeout=5.0) as http:
        while time.time() < deadline:
            if check.recorded_after_s is None:
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    logs = (
                        await http.post(
                            rpc,
                            json={
                                "jsonrpc": "2.0",
                                "id": 1,
                                "method": "eth_getLogs",
                                "params": [
                                    {
                                        "address": contract,
                                        "fromBlock": hex(from_block),
                                        "toBlock": "latest",
                                        "topics": [LIVENESS_TOPIC, topic],
                                    }
                                ],
                            },
                        )
                    ).json()["result"]
                    if logs:
                        check.recorded_after_s = time.time() - closes
                        _, online, available, healthy = decode(
                            ["uint256", "bytes", "bytes", "bytes"],
                            bytes.fromhex(logs[0]["data"][2:]),
                        )
                        check.onchain = (popcount(online), popcount(available), popcount(healthy))
            if check.api_after_s is None and check.recorded_after_s is not None:
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
                    latest = (await http.get(api + "/v1/stats")).json()["latest_epoch"]
                    if latest is not None and latest > check.epoch:
                        check.api_note = f"API already at epoch {latest}"
                        return
                    if latest == check.epoch:
                        page = await http.get(
                            api + "/v1/gpus",
                            params={"online": "true", "online_epochs": 1, "limit": 1},
                        )
                        check.api_online = int(page.json()["total"])
                        if check.api_online >= gpus:
                            check.api_after_s = time.time() - closes
                            return
            await asyncio.sleep(0.5)


# --------------------------------------------------------------------------- report


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def reasons(counter: Counter[str]) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in counter.most_common()) or "0"


def mark(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]MISSED[/]"


def slow_by_phase(tally: Tally, epoch_length: int, bins: int = 6) -> list[int]:
    """The answers slower than 1 s, counted by when in its epoch the request was written
    (``bins`` equal parts of an epoch). Both the close of the previous epoch and every agent's
    first heartbeat of the epoch (the one new to the oracle, to verify and commit; the later
    sends repeat it) fall in its first ``1/sends``."""
    counts = [0] * bins
    for latency, at in zip(tally.latencies, tally.sent_at, strict=True):
        if latency > 1.0:
            counts[min(bins - 1, int((at % epoch_length) / epoch_length * bins))] += 1
    return counts


def report(
    console: Console,
    args: argparse.Namespace,
    fleet: Fleet,
    load: list[Tally],
    generator_cpu: float,
    checks: list[EpochCheck],
    peak: Tally,
) -> dict[str, Any]:
    total = Tally()
    for t in load:
        total.merge(t)
    limit_s = args.epoch_length + 10
    table = Table(
        title=f"Heartbeats: {len(fleet.agents):,} agents, {fleet.gpus:,} GPUs, 3 oracles "
        f"(t = 2), {args.sends} per agent per oracle per epoch, {args.epochs} epochs of "
        f"{args.epoch_length} s"
    )
    for column in ("oracle", "sent", "acked (2xx)", "refused", "failed", "p50", "p99",
                   "CPU s", "acked/s per core"):  # fmt: skip
        table.add_column(
            column, justify="left" if column in ("oracle", "refused", "failed") else "right"
        )
    for k, t in enumerate([*load, total]):
        table.add_row(
            f"oracle-{k}" if k < len(load) else "[bold]all[/]",
            f"{t.sent:,}",
            f"{t.acked:,}",
            reasons(t.refused),
            reasons(t.failed),
            seconds(quantile(t.latencies, 0.5)),
            seconds(quantile(t.latencies, 0.99)),
            f"{t.cpu_s:.1f}",
            f"{t.acked / t.cpu_s:,.0f}" if t.cpu_s else "-",
        )
    console.print(table)
    console.print(
        f"load generator: {generator_cpu:.1f} CPU s; lateness of sends behind schedule "
        f"p50 {seconds(quantile(total.lags, 0.5))}, p99 {seconds(quantile(total.lags, 0.99))}"
    )
    phases = slow_by_phase(total, args.epoch_length)
    step = args.epoch_length / len(phases)
    console.print(
        f"answers slower than 1 s: {sum(phases):,}; by when in the epoch they were sent: "
        + ", ".join(f"{k * step:.0f}-{(k + 1) * step:.0f} s: {n:,}" for k, n in enumerate(phases))
    )

    available, healthy = fleet.count(GpuStatus.AVAILABLE), fleet.count(GpuStatus.HEALTHY)
    table = Table(title=f"Epochs (deadline: one epoch + 10 s = {limit_s} s after each closes)")
    for column in ("epoch", "recorded on-chain", "online / available / healthy on-chain",
                   "expected", "online in API", "in API after", "met"):  # fmt: skip
        table.add_column(column, justify="right")
    for c in checks:
        table.add_row(
            str(c.epoch),
            f"{c.recorded_after_s:.1f} s after close" if c.recorded_after_s is not None else "no",
            " / ".join(f"{n:,}" for n in c.onchain) if c.onchain else "-",
            f"{fleet.gpus:,} / {available:,} / {healthy:,}",
            f"{c.api_online:,}" if c.api_online is not None else (c.api_note or "-"),
            f"{c.api_after_s:.1f} s" if c.api_after_s is not None else "-",
            mark(c.met(fleet.gpus, limit_s)),
        )
    console.print(table)

    peak_rate = peak.acked / peak.cpu_s if peak.cpu_s else 0.0
    utilisation = peak.cpu_s / peak.wall_s if peak.wall_s else 0.0
    console.print(
        f"ceiling: oracle-0 under {args.ceiling_connections} concurrent connections for "
        f"{peak.wall_s:.1f} s: {peak.acked:,} acked of {peak.sent:,} "
        f"({peak.acked / peak.wall_s if peak.wall_s else 0:,.0f}/s wall), its process "
        f"{peak.cpu_s:.1f} CPU s ({utilisation:.0%} of one core), the load generator "
        f"{peak.client_cpu_s:.1f} CPU s; refused {reasons(peak.refused)}, "
        f"failed {reasons(peak.failed)}, p99 {seconds(quantile(peak.latencies, 0.99))}"
    )

    lost = total.sent - total.acked
    p99 = quantile(total.latencies, 0.99)
    epochs_met = bool(checks) and all(c.met(fleet.gpus, limit_s) for c in checks)
    targets = {
        "nothing_lost": total.sent > 0 and lost == 0,
        "p99_under_1s": p99 is not None and p99 < 1.0,
        "epochs_recorded_online": epochs_met,
        "ceiling_2000_per_core": peak_rate >= 2000,
    }
    accepted = f"{total.acked / total.sent:.0%}" if total.sent else "-"
    table = Table(title="Against the targets")
    table.add_column("figure")
    table.add_column(f"this run ({len(fleet.agents):,} agents)", justify="right")
    table.add_column("target", justify="right")
    table.add_column("", justify="left")
    table.add_column(
        f"earlier design, from an earlier run ({REFERENCE['agents']:,} agents), not measured here",
        justify="right",
    )
    recorded = sum(1 for c in checks if c.recorded_after_s is not None)
    online = sum(1 for c in checks if c.met(fleet.gpus, limit_s))
    rows = [
        ("heartbeats acknowledged",
         f"{total.acked:,} of {total.sent:,} ({accepted}), {lost:,} lost", "nothing lost",
         targets["nothing_lost"], REFERENCE["accepted"] + " accepted"),
        ("latency p50", seconds(quantile(total.latencies, 0.5)), "-", None, REFERENCE["p50"]),
        ("latency p99", seconds(p99), "< 1 s", targets["p99_under_1s"], REFERENCE["p99"]),
        ("epochs recorded, every GPU online in the API",
         f"{recorded} of {len(checks)} recorded, {online} with every GPU online in time",
         f"all, within {limit_s} s", targets["epochs_recorded_online"],
         REFERENCE["online"] + " online"),
        ("acked/s per oracle core, offered load",
         f"{total.acked / total.cpu_s:,.0f}" if total.cpu_s else "-", "-", None, "-"),
        ("acked/s per oracle core, ceiling", f"{peak_rate:,.0f}", ">= 2,000",
         targets["ceiling_2000_per_core"], "-"),
    ]  # fmt: skip
    for name, value, target, ok, ref in rows:
        table.add_row(name, value, target, "" if ok is None else mark(ok), ref)
    console.print(table)
    return {
        "agents": len(fleet.agents),
        "gpus": fleet.gpus,
        "epoch_length": args.epoch_length,
        "sent": total.sent,
        "acked": total.acked,
        "refused": dict(total.refused),
        "failed": dict(total.failed),
        "p50_s": quantile(total.latencies, 0.5),
        "p99_s": p99,
        "slow_by_phase": phases,
        "epochs": [
            {
                "epoch": c.epoch,
                "recorded": c.recorded_after_s is not None,
                "recorded_after_s": c.recorded_after_s,
                "onchain": c.onchain,
                "api_online": c.api_online,
                "api_after_s": c.api_after_s,
                "met": c.met(fleet.gpus, limit_s),
            }
            for c in checks
        ],
        "offered_per_core": total.acked / total.cpu_s if total.cpu_s else None,
        "ceiling_per_core": peak_rate,
        "ceiling_acked": peak.acked,
        "ceiling_sent": peak.sent,
        "targets": targets,
    }


# --------------------------------------------------------------------------- main


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, help="agents (default 10,000; --quick 500)")
    parser.add_argument("--epoch-length", type=int, help="seconds (default 120, a fifth of a "
                        "deployment's default 600; --quick 10)")  # fmt: skip
    parser.add_argument("--epochs", type=int, help="epochs under load (default 3; --quick 2)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 500 agents")
    parser.add_argument("--sends", type=int, default=3, help="heartbeats per agent per oracle "
                        "per epoch (the daemon's default: every third of an epoch)")  # fmt: skip
    parser.add_argument("--connections", type=int, default=256, help="per oracle at the "
                        "offered load: a slow oracle queues them, not the generator")  # fmt: skip
    parser.add_argument("--ceiling-connections", type=int, default=128)
    parser.add_argument("--ceiling-seconds", type=float, help="default 10; --quick 3")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    quick = {"agents": 500, "epoch_length": 10, "epochs": 2, "ceiling_seconds": 3.0}
    full = {"agents": 10_000, "epoch_length": 120, "epochs": 3, "ceiling_seconds": 10.0}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.agents < 1 or args.epochs < 1 or args.epoch_length < 2:
        parser.error("need at least one agent, one epoch and 2-second epochs")
    return args


@contextlib.contextmanager
def terminated_cleanly() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every process started here is stopped."""

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def progress_bar(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where installed (it ships with uvicorn's extras): the load generator shares
    the machine with the oracles, so each request it sends should cost it little."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    fleet = make_fleet(args.agents, args.seed)
    console.print(
        f"fleet: {len(fleet.agents):,} agents with {fleet.gpus:,} GPUs under "
        f"{len(fleet.providers)} providers (seed {args.seed}); epoch {args.epoch_length} s"
    )
    chain: Chain | None = None
    stack: Stack | None = None
    with tempfile.TemporaryDirectory(prefix="depin-heartbeats-") as tmp:
        home = Path(tmp)
        try:
            started = time.monotonic()
            with progress_bar(console) as progress:
                chain = set_up_chain(home, fleet, args.epoch_length, console, progress)
            console.print(f"chain set up in {time.monotonic() - started:.0f} s")
            with progress_bar(console) as progress:
                stack = start_stack(home, chain, progress)
                wait_indexed(stack, fleet.gpus, progress, timeout=120 + fleet.gpus / 100)
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                return runner.run(drive(args, console, fleet, chain, stack))
        except BaseException:
            if stack is not None:
                for service in stack.supervisor.services:
                    if service.log_path and service.log_path.exists():
                        tail = service.log_path.read_text(errors="replace")[-1500:]
                        console.print(f"[dim]--- {service.name} log tail ---\n{tail}[/]")
            raise
        finally:
            if stack is not None:
                stack.supervisor.stop_all()
            if chain is not None:
                chain.anvil.stop()


async def drive(
    args: argparse.Namespace, console: Console, fleet: Fleet, chain: Chain, stack: Stack
) -> dict[str, Any]:
    length = args.epoch_length
    domain = chain.client.domain
    # The first epoch under load starts at a boundary at least the signing time away.
    sign_s = len(fleet.agents) * args.epochs / 10_000 + 1
    first = int(time.time() + sign_s) // length + 1
    epochs = list(range(first, first + args.epochs))
    with progress_bar(console) as progress:
        task = progress.add_task("signing heartbeats, once per agent per epoch",
                                 total=len(fleet.agents) * len(epochs))  # fmt: skip
        bodies: dict[int, list[bytes]] = {}
        for epoch in epochs:
            bodies[epoch] = []
            for agent in fleet.agents:
                bodies[epoch].append(heartbeat_body(agent, epoch, domain))
                progress.advance(task)
    console.print(f"load from epoch {first} (starts in {first * length - time.time():.1f} s)")

    checks = [EpochCheck(e) for e in epochs]
    contract = chain.client.contract.address
    checkers = [
        asyncio.create_task(
            check_epoch(
                c,
                length,
                fleet.gpus,
                chain.anvil.rpc_url,
                contract,
                chain.start_block,
                stack.api_url,
            )
        )
        for c in checks
    ]
    pids = [s.process.pid for s in stack.oracles if s.process is not None]
    with progress_bar(console) as progress:
        wait = first * length - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        cpu_before = [cpu_seconds(p) for p in pids]
        own_before = sum(os.times()[:2])
        load_started = time.monotonic()
        load = await offered_load(
            fleet, bodies, stack.oracle_ports, length, args.sends, args.connections, progress
        )
        for tally, pid, before in zip(load, pids, cpu_before, strict=True):
            tally.cpu_s = cpu_seconds(pid) - before
            tally.wall_s = time.monotonic() - load_started
        generator_cpu = sum(os.times()[:2]) - own_before
        task = progress.add_task("waiting for the epochs' records and the API", total=len(checks))
        for checker in asyncio.as_completed(checkers):
            await checker
            progress.advance(task)

        # The ceiling: one oracle, as many concurrent senders as asked, for a few seconds.
        epoch = int(time.time()) // length
        peak_bodies = [heartbeat_body(a, epoch, domain) for a in fleet.agents[:2000]]
        progress.add_task(f"saturating oracle-0 for {args.ceiling_seconds:.0f} s", total=None)
        before = cpu_seconds(pids[0])
        own_before = sum(os.times()[:2])
        started = time.monotonic()
        peak = await ceiling(
            stack.oracle_ports[0], peak_bodies, args.ceiling_connections, args.ceiling_seconds
        )
        peak.wall_s = time.monotonic() - started
        peak.cpu_s = cpu_seconds(pids[0]) - before
        peak.client_cpu_s = sum(os.times()[:2]) - own_before
    return report(console, args, fleet, load, generator_cpu, checks, peak)


def main(argv: Sequence[str] | None = None) -> int:
    args = options(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    with terminated_cleanly():
        summary = run(args, console)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
