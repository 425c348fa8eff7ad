"""The whole-network suites' processes and drivers."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from agent.keystore import create_keystore
from depin._cli.supervisor import http_ready, stop_group
from depin.attestation import ALL_WELL, Heartbeat, Liveness, gpu_key, sign_digest
from depin.attestation_client import AttestationClient
from depin.chain import Anvil
from depin.registry import Profile, RegistryClient
from depin.wire import HeartbeatRequest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "discovery"
H100_HOST = FIXTURES / "nvml_8x_h100_sxm.json"
H100_HEALTH = ROOT / "tests" / "fixtures" / "health" / "nvml_health_8x_h100.json"
DEPIN = [sys.executable, "-m", "depin.cli"]
EPOCH_LENGTH = 3
PASSWORD = "agent-password-1234"


def depin_argv(*args: str) -> list[str]:
    return [sys.executable, "-c", "from depin.cli import main; main()", *args]


def start_up(
    home: Path, log: Path, chain_port: int, api_port: int, oracle_port: int, *extra: str
) -> subprocess.Popen[bytes]:
    """``depin up`` without an agent, in a session of its own (stop it with ``stop_group``),
    on these ports, its output in ``log``, none of this environment's ``DEPIN_`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPIN_")}
    argv = [
        sys.executable, "-m", "depin", "up", "--home", str(home),
        "--port", str(chain_port), "--api-port", str(api_port),
        "--oracle-port", str(oracle_port), "--no-agent", *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    log: Path | None = None,
    detail: Callable[[], str] | None = None,
    every: float = 0.5,
) -> Any:
    """``check()``'s first truthy answer, asked every ``every`` seconds; past ``timeout`` the
    test fails naming ``what``, with ``detail()`` and the tail of ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    more = detail() if detail else ""
    pytest.fail(f"timed out waiting for {what}\n{more}\n{tail}")


@dataclass
class OracleProcess:
    name: str
    index: int
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, peers: list[str], extra_env: dict[str, str] | None = None) -> None:
        argv = depin_argv("oracle", "serve", "--name", self.name, "--port", str(self.port))
        for peer in peers:
            argv += ["--peer", peer]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**self.env, **(extra_env or {})},
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            if http_ready(self.url + "/healthz")():
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_group(self.process, timeout=10, sig=sig)
        self.process = None


@dataclass
class Network:
    home: Path
    anvil: Anvil
    w3: Web3
    registry: RegistryClient
    attestations: AttestationClient
    oracles: list[OracleProcess]
    env: dict[str, str]
    tmp: Path
    agents: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [o.url for o in self.oracles]

    def peers_of(self, oracle: OracleProcess) -> list[str]:
        return [o.url for o in self.oracles if o is not oracle]

    def restart(self, oracle: OracleProcess, extra_env: dict[str, str] | None = None) -> None:
        oracle.stop()
        oracle.start(self.peers_of(oracle), extra_env)
        oracle.wait_ready()

    def provider(self) -> LocalAccount:
        account: LocalAccount = Account.from_key(secrets.token_bytes(32))
        self.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**19)])
        self.registry.register(
            account,
            Profile(
                name=f"p-{account.address[2:8]}",
                region="eu-west",
                endpoint="https://gpu.example",
                metadata_uri="ipfs://bafy",
                metadata_hash=bytes(32),
            ),
        )
        return account

    def agent(self, provider: LocalAccount) -> tuple[LocalAccount, Path]:
        """A new agent keystore, authorized by ``provider`` for a day."""
        path = self.tmp / f"agent-{secrets.token_hex(4)}.json"
        account = create_keystore(path, PASSWORD)
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        self.registry.authorize_agent(provider, account.address, now + 86400)
        return account, path

    def host(self) -> tuple[Path, list[bytes]]:
        """The recorded 8 x H100 host with fresh device UUIDs, and its GPU keys."""
        prefix = secrets.token_hex(2)
        text = H100_HOST.read_text().replace('"GPU-5b3a', f'"GPU-{prefix}')
        path = self.tmp / f"host-{prefix}.json"
        path.write_text(text)
        uuids = [c["ret"] for c in json.loads(text)["calls"] if c["fn"] == "nvmlDeviceGetUUID"]
        return path, [gpu_key("nvidia", u) for u in uuids]

    def health_replay(self, host: Path, recording: Path) -> Path:
        """An NVML health recording made for ``host``'s device UUIDs (see :meth:`host`)."""
        prefix = host.stem.removeprefix("host-")
        path = self.tmp / f"health-{prefix}.json"
        path.write_text(recording.read_text().replace('"GPU-5b3a', f'"GPU-{prefix}'))
        return path

    def agent_argv(
        self, keystore: Path, provider: str, host: Path, *extra: str, oracles: list[str] | None
    ) -> list[str]:
        argv = depin_argv(
            "agent", "run", "--keystore", str(keystore), "--provider", provider,
            "--rpc-url", self.anvil.rpc_url, "--home", str(self.home),
            "--replay", f"nvml={host}", "--simulated", *extra,
        )  # fmt: skip
        for url in oracles if oracles is not None else self.urls:
            argv += ["--oracle", url]
        return argv

    def run_agent(
        self,
        keystore: Path,
        provider: str,
        host: Path,
        *extra: str,
        oracles: list[str] | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        argv = self.agent_argv(keystore, provider, host, *extra, oracles=oracles)
        with subprocess.Popen(
            argv,
            env={**self.env, "DEPIN_AGENT_PASSWORD": PASSWORD},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                out, err = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                err += f"\n(killed after {timeout} s)"
        return subprocess.CompletedProcess(argv, process.returncode, out, err)

    def start_agent(
        self, keystore: Path, provider: str, host: Path, *extra: str, log: Path
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                self.agent_argv(keystore, provider, host, *extra, oracles=None),
                env={**self.env, "DEPIN_AGENT_PASSWORD": PASSWORD},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.agents.append(process)
        return process

    def heartbeat(
        self,
        url: str,
        provider: str,
        agent: LocalAccount,
        keys: list[bytes],
        epoch: int,
        status: bytes | None = None,
    ) -> httpx.Response:
        """One signed heartbeat, as an agent sends it, to one oracle."""
        status = status if status is not None else bytes([ALL_WELL] * len(keys))
        message = Heartbeat(provider, agent.address, tuple(keys), epoch, status)
        body = HeartbeatRequest(
            provider=provider,
            agent=agent.address,
            gpu_keys=keys,
            epoch=epoch,
            status=status,
            signature=sign_digest(agent, message.digest(self.attestations.domain)),
        )
        return httpx.post(url + "/v1/heartbeats", json=body.model_dump(mode="json"), timeout=5)

    def liveness_records(self) -> dict[int, Liveness]:
        """Every epoch's record on the chain."""
        event = self.attestations.contract.events.LivenessRecorded()
        return {
            int(log["args"]["epoch"]): Liveness(
                bytes(log["args"]["online"]),
                bytes(log["args"]["available"]),
                bytes(log["args"]["healthy"]),
            )
            for log in event.get_logs(from_block=0)
        }

    def attested_events(self, keys: list[bytes]) -> list[dict[str, Any]]:
        event = self.attestations.contract.events.GpuAttested()
        logs = event.get_logs(from_block=0)
        wanted = set(keys)
        return [dict(e["args"]) for e in logs if bytes(e["args"]["gpuKey"]) in wanted]
