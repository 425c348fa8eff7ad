"""Liveness across processes: anvil, three oracle servers (t = 2) and agents whose heartbeats
reach only some oracles, oracles stopped and killed, and health read from NVML recordings."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from e2e_helpers import H100_HEALTH, Network
from eth_account.signers.local import LocalAccount

from depin.attestation import ALL_WELL, GpuStatus, Liveness

pytestmark = pytest.mark.integration

EPOCH_LENGTH = 6
"""Seconds per epoch in this module's network: long enough for a killed oracle to be back
before the epoch it acknowledged is recorded."""
BLOCK_TIME = 1
"""Blocks come every second, as on a live chain, so the chain's clock moves while no oracle
transacts (with a block per transaction it would stop while two oracles are down)."""


def epoch_now() -> int:
    return int(time.time()) // EPOCH_LENGTH


@dataclass
class Host:
    provider: LocalAccount
    keys: list[bytes]
    indices: list[int]


@pytest.fixture(scope="module")
def host(network: Network) -> Host:
    """An 8-GPU host attested through the oracles by a real agent."""
    provider = network.provider()
    _, keystore = network.agent(provider)
    path, keys = network.host()
    result = network.run_agent(keystore, provider.address, path, "--once", timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    return Host(provider, keys, [network.attestations.gpu(k).index for k in keys])


Plan = list[tuple[str, str, LocalAccount, list[bytes]]]
"""``(oracle url, provider, agent, GPU keys)`` of each heartbeat to send."""


@pytest.fixture
def beating(network: Network) -> Iterator[Callable[[Plan], None]]:
    """Sends the plan's heartbeats every half second, each for the current epoch, until the
    test ends (a heartbeat to an oracle that is down is lost, as it would be)."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(plan: Plan) -> None:
        def run() -> None:
            while not stop.is_set():
                for url, provider, agent, keys in plan:
                    with contextlib.suppress(Exception):
                        network.heartbeat(url, provider, agent, keys, epoch_now())
                stop.wait(0.5)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


def wait_for_record(
    network: Network, indices: list[int], after: int = -1, timeout: float = 60.0
) -> tuple[int, Liveness]:
    """The first recorded epoch after ``after`` whose online bitmap holds every index."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for epoch, record in sorted(network.liveness_records().items()):
            if epoch > after and set(indices) <= set(record.statuses()):
                return epoch, record
        time.sleep(0.5)
    raise AssertionError(
        f"no record after epoch {after} with {indices} online: {network.liveness_records()}"
    )


def test_heartbeats_that_each_reached_a_different_oracle_are_all_online_in_one_record(
    network: Network, host: Host, beating: Callable[[Plan], None]
) -> None:
    agents = [network.agent(host.provider)[0] for _ in range(3)]
    groups = [host.keys[0:3], host.keys[3:6], host.keys[6:8]]
    provider = host.provider.address
    beating(
        [(o.url, provider, a, g) for o, a, g in zip(network.oracles, agents, groups, strict=True)]
    )

    _, record = wait_for_record(network, host.indices, after=epoch_now())

    assert {i: ALL_WELL for i in host.indices}.items() <= record.statuses().items()


def test_two_oracles_down_for_an_epoch_leave_a_gap_and_later_epochs_are_recorded(
    network: Network, host: Host, beating: Callable[[Plan], None]
) -> None:
    agent = network.agent(host.provider)[0]
    beating([(o.url, host.provider.address, agent, host.keys) for o in network.oracles])
    down = network.oracles[1:]
    for oracle in down:
        oracle.stop()
    stopped = epoch_now()
    try:
        while epoch_now() < stopped + 3:  # a whole epoch down, and its retry window too
            time.sleep(0.2)
    finally:
        for oracle in down:
            oracle.start(network.peers_of(oracle))
        for oracle in down:
            oracle.wait_ready()

    epoch, _ = wait_for_record(network, host.indices, after=stopped + 2)

    records = network.liveness_records()
    assert stopped + 1 not in records, "an epoch no quorum could sign was recorded"
    assert epoch > stopped + 2


def test_an_oracle_killed_right_after_acknowledging_heartbeats_still_gets_them_recorded(
    network: Network, host: Host
) -> None:
    agent = network.agent(host.provider)[0]
    oracle = network.oracles[0]
    start = epoch_now() + 1
    while epoch_now() < start:  # at the start of an epoch, so the restart is well within it
        time.sleep(0.05)
    response = network.heartbeat(oracle.url, host.provider.address, agent, host.keys, start)
    assert response.status_code == 200, response.text
    assert oracle.process is not None
    os.killpg(oracle.process.pid, signal.SIGKILL)
    oracle.process.wait(timeout=10)
    oracle.process = None
    oracle.start(network.peers_of(oracle))
    oracle.wait_ready()

    epoch, record = wait_for_record(network, host.indices, after=start - 1, timeout=40)

    assert epoch == start, f"the acknowledged heartbeats were recorded in {epoch}, not {start}"
    assert set(host.indices) <= set(record.statuses())


def test_recorded_availability_and_health_follow_the_hosts_nvml_recording(
    network: Network,
) -> None:
    """gpu0 clean; gpu1 uncorrectable ECC; gpu2 XID 79; gpu3 thermal slowdown; gpu4 busy with
    another process; gpu5 a row to remap; gpu6 a page to retire; gpu7 at its power cap (fine)."""
    provider = network.provider()
    _, keystore = network.agent(provider)
    path, keys = network.host()
    health = network.health_replay(path, H100_HEALTH)
    log = network.tmp / "agent-health.log"
    agent = network.start_agent(
        keystore, provider.address, path, "--heartbeat-interval", "1",
        "--health-replay", str(health), log=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert agent.poll() is None, log.read_text()[-3000:]
            if all(network.attestations.is_verified(k) for k in keys):
                break
            time.sleep(0.5)
        indices = [network.attestations.gpu(k).index for k in keys]
        epoch, record = wait_for_record(network, indices, timeout=60)
        _, again = wait_for_record(network, indices, after=epoch, timeout=30)
    finally:
        os.killpg(agent.pid, signal.SIGTERM)
        agent.wait(timeout=10)

    a, h = GpuStatus.AVAILABLE, GpuStatus.HEALTHY
    expected = [a | h, a, a, a, h, a, a, a | h]
    for seen in (record, again):
        statuses = seen.statuses()
        got = [statuses[i] for i in indices]
        # An XID is trouble in the epoch it was read; every other kind stays until it is gone.
        assert [s for n, s in enumerate(got) if n != 2] == [
            s for n, s in enumerate(expected) if n != 2
        ], got
    assert record.statuses()[indices[2]] == a, "the XID 79 read with the first heartbeat"
