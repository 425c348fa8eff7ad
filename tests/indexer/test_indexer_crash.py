"""Crashes and restores: kill -9 mid-backfill, backups taken while the indexer runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from indexer_helpers import BACKENDS, Scenario, dump, flood_agents
from web3 import Web3

from depin.chain import Anvil
from depin.toolchain import PROJECT_ROOT
from indexer.backup import backup, restore
from indexer.service import Indexer, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("make_db_url", BACKENDS, indirect=True),
]


def _indexer_process(anvil: Anvil, home: Path, url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DEPIN_INDEXER_INITIAL_RANGE": "1",
        "DEPIN_INDEXER_MAX_RANGE": "2",
        "DEPIN_INDEXER_FINALITY": "2",
    }
    args = [sys.executable, "-m", "indexer", "--database-url", url, "--rpc-url", anvil.rpc_url]
    args += ["--home", str(home), "run", "--no-follow", "--no-progress"]
    return subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE)


def test_kill_9_mid_backfill_loses_and_duplicates_nothing(
    w3: Web3,
    anvil: Anvil,
    home: Path,
    scenario: Scenario,
    make_db_url: Callable[[str], str],
    make_indexer: Callable[..., Indexer],
) -> None:
    provider = scenario.register()
    tip = flood_agents(w3, scenario.registry, provider, 250)
    url = make_db_url("crashed")
    probe = make_indexer("crashed", url=url)  # migrated, same database as the process
    start = probe.store.checkpoint().indexed_block  # type: ignore[union-attr]

    process = _indexer_process(anvil, home, url)
    try:
        reached = wait_until(
            lambda: probe.store.checkpoint().indexed_block > start + 40,  # type: ignore[union-attr]
            timeout=60,
            interval=0.005,
        )
        assert reached, process.stderr.read().decode() if process.poll() is not None else ""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = probe.store.checkpoint().indexed_block  # type: ignore[union-attr]
    assert killed_at < tip, "the backfill finished before the kill; nothing was tested"

    process = _indexer_process(anvil, home, url)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert probe.store.checkpoint().indexed_block >= tip  # type: ignore[union-attr]

    fresh = make_indexer("fresh")
    fresh.sync(target=probe.store.checkpoint().indexed_block)  # type: ignore[union-attr]
    assert dump(probe.engine) == dump(fresh.engine)
    assert len(dump(fresh.engine)["agents"]) == 250


def test_backup_while_running_then_restore_resumes_from_its_checkpoint(
    w3: Web3,
    tmp_path: Path,
    scenario: Scenario,
    make_db_url: Callable[[str], str],
    make_indexer: Callable[..., Indexer],
) -> None:
    if "postgresql" in make_db_url("probe") and not _has("pg_dump"):
        pytest.skip("pg_dump is not installed")
    p = scenario.register()
    agent = scenario.authorize(p)
    scenario.attest(p, agent, 2)
    live = make_indexer("live", finality=2, poll_interval=0.02)
    stop = threading.Event()
    follower = threading.Thread(target=live.follow, args=(stop,), daemon=True)
    follower.start()
    try:
        flood_agents(w3, scenario.registry, p, 30)
        target = tmp_path / "inventory.backup"
        backup(str(live.engine.url.render_as_string(hide_password=False)), target)
        scenario.liveness([0, 1])
        scenario.update(p, "after-the-backup")
        head = w3.eth.block_number
        assert wait_until(lambda: live.store.checkpoint().indexed_block >= head, timeout=20)  # type: ignore[union-attr]
    finally:
        stop.set()
        follower.join(timeout=10)

    restored_url = make_db_url("restored")
    restore(restored_url, target)
    restored = make_indexer("restored", url=restored_url, finality=2)
    assert restored.store.checkpoint().indexed_block < head  # type: ignore[union-attr]
    restored.sync(target=head)
    assert dump(restored.engine) == dump(live.engine)


def _has(tool: str) -> bool:
    import shutil

    return shutil.which(tool) is not None


def test_follow_latency(w3: Web3, scenario: Scenario, make_indexer: Callable[..., Indexer]) -> None:
    """A change is indexed by the first poll that starts after its block is mined: the latency
    is counted in polls (the poll running when the block landed may miss it, the next may not),
    so a slow machine stretches polls, never the count. Seconds are measured in bench/indexer."""
    p = scenario.register()
    live = make_indexer("live", finality=2, poll_interval=0.05)
    #: the indexed block after each poll of the follow loop, in order
    after_poll: list[int] = []

    def polled(_written: int) -> None:
        after_poll.append(live.store.checkpoint().indexed_block)  # type: ignore[union-attr]

    stop = threading.Event()
    follower = threading.Thread(
        target=live.follow, args=(stop,), kwargs={"on_step": polled}, daemon=True
    )
    follower.start()
    try:
        assert wait_until(lambda: live.store.checkpoint().indexed_block >= w3.eth.block_number, 10)  # type: ignore[union-attr]
        polls_to_index = []
        for region in ("one", "two", "three"):
            scenario.update(p, region)
            block = w3.eth.block_number
            mined_during = len(after_poll)  # the poll running now, if any, may not see the block
            assert wait_until(lambda b=block: any(seen >= b for seen in after_poll), 5, 0.005)
            first = next(i for i, seen in enumerate(after_poll) if seen >= block)
            polls_to_index.append(first - mined_during + 1)
    finally:
        stop.set()
        follower.join(timeout=10)
    assert max(polls_to_index) <= 2, polls_to_index
