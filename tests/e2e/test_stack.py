"""The whole system as `depin up` runs it (every role its own process, real ports), driven the
way people use it: a provider onboards through the API's relay with signatures made from the
typed-data endpoints' JSON, its agent attests, explorers see the GPUs verified and online, the
agent stops and the GPUs go offline, the provider revokes the agent and it is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_helpers import start_up, wait_for
from eth_account import Account
from eth_account.signers.local import LocalAccount

from depin._cli.supervisor import stop_group
from depin.chain import free_port
from depin.keys import create_keystore
from depin.toolchain import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "discovery" / "nvml_1x_rtx4090.json"
EPOCH = 4  # seconds per liveness epoch in this stack
PASSWORD = "agent-password-1"


@dataclass
class Stack:
    home: Path
    api: str
    rpc: str
    oracles: list[str]
    log: Path
    process: subprocess.Popen[bytes]

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.api + path, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def relay(self, typed_data_path: str, body: dict[str, Any], signer: LocalAccount) -> str:
        """What a wallet does: fetch the typed data, sign it as-is, hand the signature back."""
        response = httpx.post(self.api + typed_data_path, json=body, timeout=10)
        assert response.status_code == 200, response.text
        typed = response.json()["typed_data"]
        signature = Account.sign_typed_data(signer.key, full_message=typed).signature
        relayed = httpx.post(
            self.api + "/v1/relay",
            json={"typed_data": typed, "signature": "0x" + bytes(signature).hex()},
            timeout=30,
        )
        assert relayed.status_code == 202, relayed.text  # accepted: sent, not yet mined
        return str(relayed.json()["tx_hash"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    home = tmp / "home"
    chain_port, api_port, oracle_port = free_port(), free_port(), free_port()
    log = tmp / "up.log"
    process = start_up(home, log, chain_port, api_port, oracle_port, "--epoch-length", str(EPOCH))
    stack = Stack(
        home,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{chain_port}",
        [f"http://127.0.0.1:{oracle_port + i}" for i in range(3)],
        log,
        process,
    )
    try:
        wait_for("depin up to be ready", lambda: "ready in" in log.read_text(), 180, log)
        yield stack
    finally:
        stop_group(process, timeout=60)


def _agent(stack: Stack, keystore: Path, provider: str, tmp: Path, *extra: str) -> list[str]:
    password_file = tmp / "agent.pass"
    password_file.write_text(PASSWORD)
    password_file.chmod(0o600)
    argv = [
        sys.executable, "-m", "depin", "agent", "run",
        "--keystore", str(keystore), "--password-file", str(password_file),
        "--provider", provider, "--rpc-url", stack.rpc, "--home", str(stack.home),
        "--replay", f"nvml={FIXTURE}", "--simulated", *extra,
    ]  # fmt: skip
    for url in stack.oracles:
        argv += ["--oracle", url]
    return argv


def test_provider_onboards_attests_goes_offline_and_is_revoked(
    stack: Stack, tmp_path: Path
) -> None:
    provider: LocalAccount = Account.create()  # an unfunded wallet: everything is relayed
    stack.relay(
        "/v1/typed-data/registration",
        {"provider": provider.address, "name": "Stack GPUs", "region": "eu-north"},
        provider,
    )
    wait_for(
        "the provider in /v1/providers",
        lambda: (
            httpx.get(f"{stack.api}/v1/providers/{provider.address}", timeout=5).status_code == 200
        ),
        30,
    )

    keystore = tmp_path / "agent.json"
    agent = create_keystore(keystore, PASSWORD)
    authorization_tx = stack.relay(
        "/v1/typed-data/agent-authorization",
        {
            "provider": provider.address,
            "agent": agent.address,
            "expires_at": int(time.time()) + 86400,
        },
        provider,
    )
    wait_for(
        "the agent authorization to be indexed",
        lambda: any(
            a["agent"] == agent.address
            for a in stack.get(f"/v1/providers/{provider.address}")["provider"]["agents"]
        ),
        30,
        detail=lambda: (
            f"tx {authorization_tx}: "
            f"{httpx.get(f'{stack.api}/v1/providers/{provider.address}', timeout=5).text}"
        ),
    )

    agent_log = tmp_path / "agent.log"
    with agent_log.open("wb") as out:
        daemon = subprocess.Popen(
            _agent(stack, keystore, provider.address, tmp_path, "--heartbeat-interval", "1"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def verified_and_online() -> list[dict[str, Any]]:
            items = stack.get("/v1/gpus", provider=provider.address)["items"]
            ok = items and all(g["verified"] and g["online"] for g in items)
            return items if ok else []

        gpus = wait_for(
            "the GPU verified and online in /v1/gpus", verified_and_online, 90, agent_log
        )
        assert len(gpus) == 1
        assert gpus[0]["model"] == "sim:nvidia-rtx-4090-24gb" or gpus[0]["model"].startswith("sim:")
        assert gpus[0]["simulated"] is True
        assert gpus[0]["region"] == "eu-north"
        assert len(gpus[0]["signers"]) >= 2
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=30)

    # No more heartbeats: after the liveness window (3 epochs) the GPU is offline, on-chain.
    wait_for(
        "the GPU to go offline",
        lambda: all(
            not g["online"] for g in stack.get("/v1/gpus", provider=provider.address)["items"]
        ),
        8 * EPOCH + 30,
    )

    stack.relay(
        "/v1/typed-data/agent-revocation",
        {"provider": provider.address, "agent": agent.address},
        provider,
    )
    wait_for(
        "the revocation to be indexed",
        lambda: all(
            a["agent"] != agent.address or a.get("revoked")
            for a in stack.get(f"/v1/providers/{provider.address}")["provider"]["agents"]
        ),
        30,
    )
    refused = subprocess.run(
        _agent(stack, keystore, provider.address, tmp_path, "--once"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0
    assert "unauthorized_agent" in refused.stdout + refused.stderr
