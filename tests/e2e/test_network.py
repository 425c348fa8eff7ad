"""The network across processes: anvil, three oracle servers (t = 2) and `depin agent run`
replaying an 8 x H100 host as simulated hardware."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from e2e_helpers import Network, depin_argv

from depin.attestation import indices_from_bitmap, model_text

pytestmark = pytest.mark.integration

SIM_H100 = "sim:nvidia-h100-sxm5-80gb"


def _assert_ok(result: object) -> None:
    rc = getattr(result, "returncode", None)
    assert rc == 0, f"agent exited {rc}:\n{getattr(result, 'stderr', '')[-3000:]}"


def test_agent_attests_a_replayed_host_through_the_oracles(network: Network) -> None:
    provider = network.provider()
    _, keystore = network.agent(provider)
    host, keys = network.host()

    result = network.run_agent(keystore, provider.address, host, "--once", timeout=30)

    _assert_ok(result)
    assert all(network.attestations.is_verified(k) for k in keys)
    events = network.attested_events(keys)
    assert len(events) == 8
    assert {model_text(e["model"]) for e in events} == {SIM_H100}
    assert all(e["provider"] == provider.address for e in events)
    # the proven int8 figure is the CPU proof's, far below an H100's
    assert all(0 < (e["figures"] & 0xFFFFFFFF) < 1_000_000 for e in events)
    # every GPU of the host names the host's one capability document, checked by the oracles
    assert len({e["capabilities"] for e in events}) == 1 and events[0]["capabilities"] != bytes(32)

    # the provider sees them, read from the chain
    shown = subprocess.run(
        depin_argv("provider", "show", provider.address, "--json"),
        env=network.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    gpus = json.loads(shown.stdout)["gpus"]
    assert sorted(bytes.fromhex(g["gpuKey"][2:]) for g in gpus) == sorted(keys)
    assert all(g["verified"] and g["model"] == SIM_H100 for g in gpus)


def test_heartbeats_become_liveness_bits(network: Network) -> None:
    provider = network.provider()
    _, keystore = network.agent(provider)
    host, keys = network.host()
    agent = network.start_agent(
        keystore, provider.address, host, "--heartbeat-interval", "0.5",
        log=network.tmp / "agent-liveness.log",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        indices: set[int] = set()
        live: set[int] = set()
        while time.monotonic() < deadline and (not indices or not indices <= live):
            time.sleep(0.5)
            assert agent.poll() is None, (network.tmp / "agent-liveness.log").read_text()
            if not indices and all(network.attestations.is_verified(k) for k in keys):
                indices = {network.attestations.gpu(k).index for k in keys}
            if indices:
                event = network.attestations.contract.events.LivenessRecorded()
                for log in event.get_logs(from_block=0):
                    live |= set(indices_from_bitmap(bytes(log["args"]["online"])))
        log_text = (network.tmp / "agent-liveness.log").read_text()
        assert indices, f"GPUs never verified:\n{log_text[-3000:]}"
        assert indices <= live, f"no liveness bits for {sorted(indices - live)}"
    finally:
        os.killpg(agent.pid, signal.SIGTERM)
        agent.wait(timeout=10)


def test_one_oracle_down_the_agent_still_attests(network: Network) -> None:
    down = network.oracles[0]
    down.stop()
    try:
        provider = network.provider()
        _, keystore = network.agent(provider)
        host, keys = network.host()
        result = network.run_agent(keystore, provider.address, host, "--once")
        _assert_ok(result)
        assert all(network.attestations.is_verified(k) for k in keys)
        assert "unavailable" in result.stderr
    finally:
        network.restart(down)


def test_transmitter_killed_between_signing_and_sending_lands_each_attestation_once(
    network: Network,
) -> None:
    transmitter = network.oracles[0]
    network.restart(
        transmitter,
        {"DEPIN_ORACLE_CRASH_AFTER_SIGNING": "1", "DEPIN_ORACLE_LIVENESS": "false"},
    )
    provider = network.provider()
    _, keystore = network.agent(provider)
    host, keys = network.host()
    agent = network.start_agent(
        keystore, provider.address, host, "--once", log=network.tmp / "agent-crash.log"
    )
    assert transmitter.process is not None
    try:
        transmitter.process.wait(timeout=40)
    except Exception:
        pytest.fail((network.tmp / "agent-crash.log").read_text()[-3000:])
    assert transmitter.process.returncode == -signal.SIGKILL
    assert not any(network.attestations.is_verified(k) for k in keys)
    network.restart(transmitter)
    assert agent.wait(timeout=40) == 0, (network.tmp / "agent-crash.log").read_text()[-3000:]
    assert all(network.attestations.is_verified(k) for k in keys)
    events = network.attested_events(keys)
    assert sorted(bytes(e["gpuKey"]) for e in events) == sorted(keys)  # each exactly once


def test_a_revoked_agent_is_refused(network: Network) -> None:
    provider = network.provider()
    agent, keystore = network.agent(provider)
    network.registry.revoke_agent(provider, agent.address)
    time.sleep(0.3)  # past the oracles' authorization cache
    host, keys = network.host()

    result = network.run_agent(keystore, provider.address, host, "--once")

    assert result.returncode != 0
    assert "unauthorized_agent" in result.stderr
    assert not any(network.attestations.is_verified(k) for k in keys)
