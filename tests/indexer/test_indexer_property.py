"""Property tests: incremental indexing (with reorgs) equals a rebuild; the fast decoder equals
eth_abi."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from attest_helpers import deploy_test_oracle
from eth_abi import encode
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from indexer_helpers import Scenario, dump
from web3 import Web3

from depin import artifacts
from depin.deploy import deploy_registry
from depin.registry import RegistryClient
from indexer.decoding import EventDecoder, LogDecoder, normalize
from indexer.service import Indexer

_examples = itertools.count()

OPS = st.lists(
    st.one_of(
        st.just(("register",)),
        st.tuples(st.just("update"), st.integers(0, 5), st.sampled_from(["eu", "us", "ap"])),
        st.tuples(st.just("authorize"), st.integers(0, 5)),
        st.tuples(st.just("revoke_agent"), st.integers(0, 5), st.integers(0, 5)),
        st.tuples(st.just("attest"), st.integers(0, 5), st.integers(1, 3)),
        st.tuples(st.just("reattest"), st.integers(0, 9)),
        st.tuples(st.just("retire"), st.integers(0, 9)),
        st.tuples(st.just("liveness"), st.sets(st.integers(0, 9), max_size=6)),
        st.just(("rotate",)),
        st.just(("sync",)),
        st.just(("sync",)),
        st.just(("snapshot",)),
        st.just(("revert",)),
        st.just(("revert",)),
    ),
    min_size=1,
    max_size=14,
)


def _run(scenario: Scenario, w3: Web3, op: tuple[Any, ...], state: dict[str, Any]) -> None:
    name = op[0]
    providers = scenario.providers
    if name == "register":
        scenario.register()
    elif name == "sync":
        state["indexer"].sync()
    elif name == "snapshot":
        state["snapshot"] = (
            w3.provider.make_request("evm_snapshot", [])["result"],
            scenario.save(),
        )
    elif name == "revert" and state.get("snapshot"):
        snapshot, saved = state.pop("snapshot")
        assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
        scenario.load(saved)
        w3.provider.make_request("evm_mine", [])  # the new branch differs even with no ops
    elif not providers:
        return
    elif name == "update":
        scenario.update(providers[op[1] % len(providers)], op[2])
    elif name == "authorize":
        scenario.authorize(providers[op[1] % len(providers)])
    elif name == "revoke_agent":
        provider = providers[op[1] % len(providers)]
        agents = scenario.agents[provider.address]
        if agents:
            scenario.revoke_agent(provider, agents[op[2] % len(agents)])
    elif name == "attest":
        provider = providers[op[1] % len(providers)]
        agents = scenario.agents[provider.address] or [scenario.authorize(provider)]
        scenario.attest(provider, agents[0], op[2])
    elif name == "reattest" and scenario.gpus:
        key, provider, _ = scenario.gpus[op[1] % len(scenario.gpus)]
        agents = scenario.agents[provider.address]
        scenario.attest(provider, agents[0], key=key)
    elif name == "retire" and scenario.gpus:
        index = op[1] % len(scenario.gpus)
        scenario.retire(index)
        scenario.gpus.pop(index)
    elif name == "liveness" and scenario.gpus:
        count = scenario.oracle.gpu_count()
        scenario.liveness(sorted(i for i in op[1] if i < count))
    elif name == "rotate":
        scenario.rotate_oracles()


@pytest.mark.integration
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_incremental_indexing_with_reorgs_equals_rebuild(
    ops: list[tuple[Any, ...]],
    w3: Web3,
    tmp_path: Path,
    make_account: Callable[..., LocalAccount],
    make_indexer: Callable[..., Indexer],
) -> None:
    n = next(_examples)
    home = tmp_path / f"example-{n}"
    admin = make_account()
    registry = RegistryClient(w3, deploy_registry(w3, admin, home / "deployments").address)
    oracles = [make_account(fund=False) for _ in range(3)]
    client = deploy_test_oracle(w3, admin, home, registry.address, oracles)
    scenario = Scenario(w3, registry, client, oracles, make_account)
    state: dict[str, Any] = {"indexer": make_indexer(f"incremental-{n}", home=home, finality=1_000)}
    for op in ops:
        _run(scenario, w3, op, state)
    incremental: Indexer = state["indexer"]
    incremental.sync()
    fresh = make_indexer(f"fresh-{n}", home=home)
    fresh.sync(target=incremental.store.checkpoint().indexed_block)  # type: ignore[union-attr]
    assert dump(incremental.engine) == dump(fresh.engine)


# --------------------------------------------------------------------------- decoder


def _strategy(kind: str) -> st.SearchStrategy[Any]:
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: Web3.to_checksum_address(b))
    if kind == "bool":
        return st.booleans()
    if kind.startswith("uint"):
        return st.integers(0, 2 ** int(kind[4:]) - 1)
    if kind.startswith("bytes") and kind != "bytes":
        size = int(kind[5:])
        return st.binary(min_size=size, max_size=size)
    if kind == "bytes":
        return st.binary(max_size=80)
    if kind == "string":
        return st.text(max_size=40)
    if kind.endswith("[]"):
        return st.lists(_strategy(kind[:-2]), max_size=4)
    raise AssertionError(kind)


_DECODERS = [
    EventDecoder.from_abi(contract, entry)
    for contract in ("ProviderRegistry", "AttestationOracle")
    for entry in artifacts.abi(contract)
    if entry.get("type") == "event"
]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), decoder=st.sampled_from(_DECODERS))
def test_fast_decoder_equals_eth_abi(data: st.DataObject, decoder: EventDecoder) -> None:
    indexed = [data.draw(_strategy(kind)) for _, kind in decoder.indexed]
    values = [data.draw(_strategy(kind)) for kind in decoder.data_types]
    topics = [decoder.topic0] + [
        "0x" + encode([k], [v]).hex() for (_, k), v in zip(decoder.indexed, indexed, strict=True)
    ]
    data_hex = "0x" + encode(list(decoder.data_types), values).hex()
    decoded = decoder.decode(topics, data_hex)
    expected = {
        name: normalize(kind, v) for (name, kind), v in zip(decoder.indexed, indexed, strict=True)
    }
    expected.update(
        {
            n: normalize(k, v)
            for n, k, v in zip(decoder.data_names, decoder.data_types, values, strict=True)
        }
    )
    assert decoded == expected


def test_unknown_logs_are_skipped() -> None:
    decoder = LogDecoder(
        [("ProviderRegistry", "0x" + "11" * 20, artifacts.abi("ProviderRegistry"))]
    )
    log = {"address": "0x" + "22" * 20, "topics": ["0x" + "00" * 32], "data": "0x"}
    assert decoder.decode(log) is None
    log["address"] = "0x" + "11" * 20
    assert decoder.decode(log) is None


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(min_size=20, max_size=20))
def test_checksum_equals_eth_utils(raw: bytes) -> None:
    from eth_utils import to_checksum_address

    from depin.crypto import checksum_address as checksum

    assert checksum("0x" + raw.hex()) == to_checksum_address("0x" + raw.hex())
