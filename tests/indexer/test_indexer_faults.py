"""RPC faults: the indexer retries transport errors, splits refused ranges and completes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from indexer_helpers import Scenario, dump, flood_agents
from rpc_proxy import FaultyProxy

from depin.chain import Anvil, free_port
from indexer.errors import RpcUnavailableError
from indexer.service import Indexer

pytestmark = pytest.mark.integration


def _events(scenario: Scenario) -> None:
    p = scenario.register()
    agent = scenario.authorize(p)
    for _ in range(3):
        scenario.authorize(p)
    scenario.attest(p, agent, 5)
    scenario.liveness([0, 1, 2])
    scenario.update(p, "elsewhere")


def _same_as_direct(indexer: Indexer, make_indexer: Callable[..., Indexer]) -> int:
    """Asserts that ``indexer`` wrote what one talking straight to anvil writes up to the same
    block; returns that block."""
    direct = make_indexer("direct")
    checkpoint = indexer.store.checkpoint()
    assert checkpoint is not None
    direct.sync(target=checkpoint.indexed_block)
    assert dump(indexer.engine) == dump(direct.engine)
    return checkpoint.indexed_block


def test_refused_connections_stalls_and_limited_nodes(
    anvil: Anvil, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    _events(scenario)
    proxy = FaultyProxy(
        anvil.rpc_url,
        free_port(),
        max_logs=8,
        fail_every=7,
        stall_every=11,
        stall_seconds=1.0,
    ).start(delay=0.6)  # connection refused for the first 0.6 s
    try:
        # the first requests (chain id in prepare) meet a refused port and are retried
        indexer = make_indexer(
            "proxied",
            rpc_url=proxy.url,
            request_timeout=0.5,
            initial_range=10_000,
            retry_attempts=20,
            finality=2,
        )
        indexer.sync()
    finally:
        proxy.stop()
    _same_as_direct(indexer, make_indexer)
    assert proxy.refused_ranges > 0 and indexer.reader.splits > 0
    assert proxy.failures > 0 and indexer.rpc.retries > 0
    assert proxy.stalls > 0


def test_a_node_that_limits_block_ranges(
    anvil: Anvil, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    _events(scenario)
    proxy = FaultyProxy(anvil.rpc_url, free_port(), max_blocks=4).start()
    try:
        indexer = make_indexer("proxied", rpc_url=proxy.url, initial_range=1_000)
        indexer.sync()
    finally:
        proxy.stop()
    _same_as_direct(indexer, make_indexer)
    assert indexer.reader.range <= 4


@pytest.mark.parametrize(
    "unsupported",
    [frozenset(), frozenset({"eth_getBlockReceipts"})],
    ids=["block-receipts", "transaction-receipts"],
)
def test_a_block_with_more_logs_than_the_node_returns_is_read_from_its_receipts(
    anvil: Anvil,
    scenario: Scenario,
    make_indexer: Callable[..., Indexer],
    unsupported: frozenset[str],
) -> None:
    _events(scenario)
    provider = scenario.register()
    crowded = flood_agents(scenario.w3, scenario.registry, provider, 12, one_block=True)
    scenario.authorize(provider)  # and a block after it
    proxy = FaultyProxy(anvil.rpc_url, free_port(), max_logs=5, unsupported=unsupported).start()
    try:
        indexer = make_indexer("proxied", rpc_url=proxy.url, initial_range=1_000)
        indexer.sync()
    finally:
        proxy.stop()
    indexed = _same_as_direct(indexer, make_indexer)
    assert indexed > crowded
    logs = scenario.w3.eth.get_logs(
        {"fromBlock": 0, "toBlock": indexed, "address": indexer.reader.addresses}
    )
    per_block = Counter(int(log["blockNumber"]) for log in logs)
    crowded_blocks = {block for block, n in per_block.items() if n > 5}
    assert crowded in crowded_blocks
    assert indexer.reader.receipt_reads == len(crowded_blocks)
    if unsupported:
        txs = sum(len(scenario.w3.eth.get_block(b)["transactions"]) for b in crowded_blocks)
        assert proxy.methods["eth_getTransactionReceipt"] == txs >= 12
    else:
        assert proxy.methods["eth_getBlockReceipts"] == len(crowded_blocks)


def test_a_node_that_never_answers_is_a_named_error(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    indexer = make_indexer("main")
    indexer.rpc.w3.provider.endpoint_uri = f"http://127.0.0.1:{free_port()}"  # type: ignore[attr-defined]
    indexer.rpc.attempts = 3
    with pytest.raises(RpcUnavailableError) as caught:
        indexer.sync()
    assert caught.value.code == "indexer_rpc_unavailable" and caught.value.retryable
