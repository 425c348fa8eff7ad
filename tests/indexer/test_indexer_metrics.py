"""The indexer's /metrics on its dedicated port: events indexed, blocks behind, reorgs with their
depth, RPC failures by kind; and ``depin indexer run --log-format json``."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from indexer_helpers import Scenario
from metrics_helpers import Samples, parse_samples, value
from web3 import Web3

from depin import metrics
from depin.chain import Anvil
from depin.cli import main
from depin.rpc import RETRIES
from indexer.service import Indexer

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def metrics_url() -> str:
    port = _free_port()
    assert metrics.serve(port, host="127.0.0.1")
    return f"http://127.0.0.1:{port}/metrics"


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200
    return parse_samples(response.text)


def test_indexed_events_move_the_events_counter_and_the_lag_gauges(
    metrics_url: str, w3: Web3, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    p = scenario.register()
    agent = scenario.authorize(p)
    scenario.attest(p, agent, 2)
    indexer = make_indexer()
    before = scrape(metrics_url)
    written = indexer.sync()
    after = scrape(metrics_url)
    assert written > 0
    events = "depin_indexer_events_total"
    assert value(after, events) - value(before, events) == written
    head = w3.eth.block_number
    assert value(after, "depin_indexer_indexed_block") == head
    assert value(after, "depin_indexer_head_block") == head
    assert value(after, "depin_indexer_blocks_behind") == 0


def test_a_reorg_moves_the_reorg_counter_and_its_depth(
    metrics_url: str, w3: Web3, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    p = scenario.register()
    indexer = make_indexer("follower", finality=10)
    indexer.sync()
    scenario.replace_branch(indexer, p, ["dropped-1", "dropped-2"], ["canonical"] * 3)
    before = scrape(metrics_url)
    indexer.sync()
    after = scrape(metrics_url)
    assert value(after, "depin_indexer_reorgs_total") - value(before, "depin_indexer_reorgs_total")
    depth = "depin_indexer_reorg_depth_blocks_count"
    assert value(after, depth) - value(before, depth) == 1
    assert value(after, "depin_indexer_reorg_depth_blocks_sum") > value(
        before, "depin_indexer_reorg_depth_blocks_sum"
    )


def test_rpc_failures_are_counted_by_kind(metrics_url: str) -> None:
    before = scrape(metrics_url)
    RETRIES.add("timeout")
    after = scrape(metrics_url)
    errors = "depin_rpc_errors_total"
    assert value(after, errors, kind="timeout") - value(before, errors, kind="timeout") == 1


def test_run_logs_one_json_object_a_line(
    anvil: Anvil, home: Path, tmp_path: Path, scenario: Scenario
) -> None:
    scenario.register()
    url = f"sqlite:///{tmp_path / 'json.sqlite'}"
    base = ["indexer", "--database-url", url, "--rpc-url", anvil.rpc_url, "--home", str(home)]
    result = CliRunner(mix_stderr=False).invoke(
        main,
        [*base, "run", "--no-follow", "--log-format", "json"],
        env={"DEPIN_INDEXER_METRICS_PORT": "0"},
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    entries = [json.loads(line) for line in lines]
    assert any(e["event"].startswith("backfilled ") for e in entries)
    for entry in entries:
        assert entry["service"] == "indexer" and entry["logger"]
        assert {"ts", "level", "event"} <= entry.keys()
