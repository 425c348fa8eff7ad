"""The indexer's health: what it records (progress, halts), what `depin indexer status` says
from it, and the log line of each reorg it rolls back."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from indexer_helpers import Scenario
from web3 import Web3

from depin.chain import Anvil
from depin.cli import main
from indexer.errors import DeepReorgError
from indexer.health import read_health
from indexer.service import Indexer

pytestmark = pytest.mark.integration

_ROLLED_BACK = re.compile(
    r"reorg: rolled back (\d+) blocks \((\d+)-(\d+)\) to the common ancestor (\d+)"
)


def _status(indexer: Indexer, anvil_url: str, home: Path) -> str:
    base = ["indexer", "--database-url", indexer.settings.url, "--rpc-url", anvil_url]
    result = CliRunner().invoke(main, [*base, "--home", str(home), "status"])
    assert result.exit_code == 0, result.output
    return result.output


def _deep_reorg(w3: Web3, scenario: Scenario, indexer: Indexer) -> DeepReorgError:
    """Indexes a branch, then replaces it with a longer one that forks below the kept window."""
    p = scenario.register()
    scenario.replace_branch(indexer, p, ["on-the-old-branch"] * 6, ["on-the-new-branch"] * 12)
    with pytest.raises(DeepReorgError) as caught:
        indexer.sync()
    return caught.value


def test_a_synced_indexer_is_ok_and_a_stalled_one_degraded(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    scenario.register()
    indexer = make_indexer("main")
    assert read_health(indexer.engine).state == "degraded"  # nothing indexed yet
    indexer.sync()
    health = read_health(indexer.engine)
    checkpoint = indexer.store.checkpoint()
    assert checkpoint is not None
    assert health.state == "ok" and health.reasons == ()
    assert health.progress_block == checkpoint.indexed_block and health.lag == 0
    assert health.progress_at is not None and abs(health.progress_at - time.time()) < 60

    later = read_health(indexer.engine, stalled_after=300, now=health.progress_at + 301)
    assert later.state == "degraded"
    assert any("no progress for 301s" in reason for reason in later.reasons)


def test_a_checkpoint_that_is_no_longer_canonical_is_degraded_with_an_honest_lag(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    scenario.register()
    indexer = make_indexer("main")
    indexer.sync()
    checkpoint = indexer.store.checkpoint()
    assert checkpoint is not None
    health = read_health(
        indexer.engine, head_block=checkpoint.indexed_block, canonical_hash="0x" + "ab" * 32
    )
    assert health.state == "degraded" and health.canonical is False
    assert any("no longer on the node's chain" in reason for reason in health.reasons)
    assert health.lag == 1 and health.lag_at_least  # not "0 blocks"
    same = read_health(
        indexer.engine, head_block=checkpoint.indexed_block, canonical_hash=checkpoint.indexed_hash
    )
    assert same.state == "ok" and same.canonical is True and same.lag == 0


def test_a_deep_reorg_halts_until_a_rebuild(
    anvil: Anvil,
    home: Path,
    w3: Web3,
    scenario: Scenario,
    make_indexer: Callable[..., Indexer],
) -> None:
    indexer = make_indexer("follower", finality=3)
    error = _deep_reorg(w3, scenario, indexer)
    assert error.depth == error.to_block - error.from_block + 1 >= 4

    health = read_health(indexer.engine)
    assert health.state == "halted" and health.halt is not None
    assert health.halt.reason == "deep_reorg"
    assert health.halt.detail["depth"] == error.depth
    assert (health.halt.detail["from_block"], health.halt.detail["to_block"]) == (
        error.from_block,
        error.to_block,
    )
    assert health.fix is not None and "depin indexer rebuild" in health.fix

    head = w3.eth.block_number
    output = _status(indexer, anvil.rpc_url, home)
    assert "state:         halted" in output
    assert f"({error.from_block}-{error.to_block})" in output
    assert "fix:           run `depin indexer rebuild`" in output
    # the truth: everything from the first replaced block up is missing
    assert f"lag:           at least {head - error.from_block + 1} blocks" in output

    # restarting does not clear it: the reorg is still there
    with pytest.raises(DeepReorgError):
        indexer.sync()
    assert read_health(indexer.engine).state == "halted"

    base = ["indexer", "--database-url", indexer.settings.url, "--rpc-url", anvil.rpc_url]
    result = CliRunner().invoke(main, [*base, "--home", str(home), "rebuild", "--no-progress"])
    assert result.exit_code == 0, result.output
    output = _status(indexer, anvil.rpc_url, home)
    assert "state:         ok" in output and "lag:           0 blocks" in output
    assert read_health(indexer.engine).halt is None


def test_each_reorg_rolled_back_is_logged_with_its_depth_and_range(
    w3: Web3,
    scenario: Scenario,
    make_indexer: Callable[..., Indexer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = scenario.register()
    indexer = make_indexer("follower", finality=3)
    indexer.sync()
    ancestor = w3.eth.block_number
    with scenario.dropped_branch(p):
        scenario.update(p, "a")
        scenario.update(p, "b")
        indexer.sync()
        dropped_tip = w3.eth.block_number
    for region in "cdefgh":
        scenario.update(p, region)
    with caplog.at_level(logging.WARNING, logger="indexer"):
        indexer.sync()
    found = [_ROLLED_BACK.search(r.getMessage()) for r in caplog.records]
    matches = [m for m in found if m is not None]
    assert len(matches) == 1
    depth, first, last, common = (int(g) for g in matches[0].groups())
    assert (common, first, last) == (ancestor, ancestor + 1, dropped_tip)
    assert depth == dropped_tip - ancestor
    assert read_health(indexer.engine).state == "ok"
