"""RPC faults: the indexer retries what heals, splits refused ranges and completes; it halts, by
name, on what does not heal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from indexer_helpers import Scenario, dump, flood_agents
from rpc_proxy import FaultyProxy

from depin.chain import Anvil, free_port
from depin.cli import main
from depin.errors import ContractNotDeployedError, WrongChainError
from indexer.errors import RpcUnavailableError
from indexer.health import read_health
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


@pytest.fixture
def proxy(anvil: Anvil) -> Iterator[FaultyProxy]:
    """A proxy in front of the session's node that passes everything until told otherwise."""
    proxy = FaultyProxy(anvil.rpc_url, free_port()).start()
    yield proxy
    proxy.stop()


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


# --------------------------------------------------------------------------- failures that heal


def test_a_full_sync_behind_a_flaky_provider_equals_a_rebuild(
    anvil: Anvil, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    """10 % JSON-RPC errors ("header not found" among them), 5 % dropped connections, latency
    and "too many results" refusals: the indexer never stops, and ends where a rebuild does."""
    _events(scenario)
    provider = scenario.register()
    flood_agents(scenario.w3, scenario.registry, provider, 40, one_block=False)
    flood_agents(scenario.w3, scenario.registry, provider, 8, one_block=True)
    scenario.w3.provider.make_request("anvil_mine", [hex(150)])  # type: ignore[arg-type]
    proxy = FaultyProxy(
        anvil.rpc_url,
        free_port(),
        max_logs=3,
        error_rate=0.10,
        drop_rate=0.05,
        latency=(0.0, 0.005),
        seed=7,
    ).start()
    try:
        # two blocks per eth_getLogs: hundreds of requests, so that every kind of fault occurs
        indexer = make_indexer(
            "proxied", rpc_url=proxy.url, initial_range=2, max_range=2, finality=2
        )
        indexer.sync()
        _events(scenario)  # and following the head through the same faults
        indexer.sync()
    finally:
        proxy.stop()
    _same_as_direct(indexer, make_indexer)
    assert proxy.injected["lag"] + proxy.injected["trie"] + proxy.injected["unknown_block"] > 0
    assert proxy.injected["reset"] > 0 and len(proxy.injected) >= 5
    assert proxy.refused_ranges > 0
    counted = indexer.rpc.counter.snapshot()
    assert counted["lag"] > 0 and counted["connection"] > 0
    health = read_health(indexer.engine)
    assert health.state == "ok" and health.lag == 0


#: the fault the proxy injects -> the kind the retry layer counts it as
_KINDS = {
    "lag": "lag",
    "trie": "lag",
    "unknown_block": "lag",
    "rpc_timeout": "rpc_timeout",
    "429": "rate_limited",
    "5xx": "server_error",
    "malformed": "malformed",
    "reset": "connection",
}


@pytest.mark.parametrize("fault", sorted(_KINDS))
def test_each_failure_that_heals_is_retried(
    proxy: FaultyProxy, scenario: Scenario, make_indexer: Callable[..., Indexer], fault: str
) -> None:
    _events(scenario)
    indexer = make_indexer("proxied", rpc_url=proxy.url)
    proxy.inject(fault, count=3, method="eth_blockNumber")
    proxy.inject(fault, count=2, method="eth_getBlockByNumber")
    indexer.sync()
    _same_as_direct(indexer, make_indexer)
    assert proxy.injected == {fault: 5}
    assert indexer.rpc.counter.snapshot() == {_KINDS[fault]: 5}


def test_a_lagging_node_is_asked_again_not_for_less(
    proxy: FaultyProxy, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    """ "header not found" for eth_getLogs is the node behind, not the range too large."""
    _events(scenario)
    indexer = make_indexer("proxied", rpc_url=proxy.url, initial_range=10_000)
    proxy.inject("lag", count=4, method="eth_getLogs")
    indexer.sync()
    _same_as_direct(indexer, make_indexer)
    assert indexer.reader.splits == 0 and indexer.reader.receipt_reads == 0
    assert indexer.rpc.counter["lag"] == 4


# --------------------------------------------------------------------------- errors that do not


def test_a_node_on_another_chain_halts_the_indexer(
    anvil: Anvil,
    proxy: FaultyProxy,
    scenario: Scenario,
    make_indexer: Callable[..., Indexer],
) -> None:
    _events(scenario)
    indexer = make_indexer("proxied", rpc_url=proxy.url)
    indexer.sync()
    proxy.chain_id = 10  # the load balancer now routes to another network
    indexer.chain_check_interval = 0
    with pytest.raises(WrongChainError) as caught:
        indexer.sync()
    assert caught.value.code == "wrong_chain"
    assert (caught.value.expected, caught.value.actual) == (anvil.chain_id, 10)
    assert f"the node is on chain 10, but the inventory (chain {anvil.chain_id})" in str(
        caught.value
    )
    assert indexer.rpc.counter.total == 0  # stopped at once, not retried
    health = read_health(indexer.engine)
    assert health.state == "halted" and health.halt is not None
    assert health.halt.reason == "wrong_chain" and health.halt.detail["actual"] == 10
    assert health.fix is not None and "DEPIN_INDEXER_RPC_URL" in health.fix


def test_run_on_the_wrong_chain_exits_with_one_line(
    anvil: Anvil, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'wrong.sqlite'}"
    base = ["indexer", "--database-url", url, "--rpc-url", anvil.rpc_url, "--home", str(home)]
    monkeypatch.setenv("DEPIN_INDEXER_CHAIN_ID", "1")
    result = CliRunner().invoke(main, [*base, "run", "--no-follow", "--no-progress"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    # The halt is also in the service's log (for operators' log pipelines); the command's own
    # answer is one line, the last.
    assert [line for line in lines if line.startswith("Error:")] == lines[-1:]
    assert lines[-1] == (
        f"Error: the node is on chain {anvil.chain_id}, but DEPIN_INDEXER_CHAIN_ID is chain 1; "
        "point the RPC URL at the right network"
    )


def test_a_contract_without_code_halts_the_indexer(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    indexer = make_indexer("main")
    contracts = {**indexer.contracts()}
    contracts["ProviderRegistry"] = {**contracts["ProviderRegistry"], "address": "0x" + "42" * 20}
    other = make_indexer("other")
    other._contracts = contracts
    with pytest.raises(ContractNotDeployedError) as caught:
        other.prepare()
    assert caught.value.code == "contract_not_deployed"
    assert caught.value.contract == "ProviderRegistry"
    assert caught.value.address == "0x" + "42" * 20
    assert read_health(other.engine).halt.reason == "contract_not_deployed"  # type: ignore[union-attr]
