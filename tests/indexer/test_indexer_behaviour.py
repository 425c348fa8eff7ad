"""The indexer's behaviour, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from indexer_helpers import BACKENDS, MI300, Scenario, dump, rows
from web3 import Web3

from depin.attestation import GpuStatus, model_text
from indexer import models
from indexer.db import is_at_head, make_engine, require_at_head, session_factory
from indexer.errors import DatabaseNotMigratedError, DeepReorgError
from indexer.feed import changes_since, latest_change_id
from indexer.service import Indexer
from indexer.store import Batch

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("make_db_url", BACKENDS, indirect=True),
]


def test_inventory_from_every_event(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    p1 = scenario.register("alpha", "eu-west")
    p2 = scenario.register("beta", "us-east")
    a1 = scenario.authorize(p1)
    a2 = scenario.authorize(p2)
    scenario.update(p2, "ap-south")
    k1, k2 = scenario.attest(p1, a1, 2)
    (k3,) = scenario.attest(p2, a2, model=MI300, memory=206_158_430_208, gops=2_600_000)
    scenario.liveness([0, 2])
    scenario.liveness([1, 2])
    scenario.retire(0)
    scenario.revoke_agent(p2, a2)
    first_oracles = [o.address for o in scenario.oracles]
    scenario.rotate_oracles()
    indexer = make_indexer()
    assert indexer.sync() > 0

    providers = {r["address"]: r for r in rows(indexer.engine, models.Provider)}
    assert providers[p1.address]["name"] == "alpha"
    assert providers[p2.address]["region"] == "ap-south"
    assert providers[p2.address]["status"] == "active"
    assert providers[p1.address]["registered_at"] is not None
    agents = {(r["provider"], r["agent"]): r for r in rows(indexer.engine, models.Agent)}
    assert agents[(p1.address, a1.address)]["revoked"] is False
    assert agents[(p2.address, a2.address)]["revoked"] is True

    gpus = {r["gpu_key"]: r for r in rows(indexer.engine, models.Gpu)}
    g1, g2, g3 = (gpus["0x" + k.hex()] for k in (k1, k2, k3))
    assert (g1["gpu_index"], g2["gpu_index"], g3["gpu_index"]) == (0, 1, 2)
    assert g3["vendor"] == "amd" and g3["model"] == MI300 and g3["memory_bytes"] == 206_158_430_208
    assert g3["throughput_gops"] == 2_600_000 and g1["fp16_gflops"] == 900_000
    assert g1["revoked"] is True and g1["revoked_by_provider"] is True
    assert (g1["online"], g2["online"], g3["online"]) == (False, True, True)
    assert g1["last_seen_epoch"] == scenario.epoch - 1 and g2["last_seen_epoch"] == scenario.epoch
    assert g1["signers"] == first_oracles[:2]  # in config order (bit i = oracles[i])
    assert g1["config_version"] == 1
    history = rows(indexer.engine, models.Attestation)
    assert len(history) == 3 and all(len(h["signers"]) == 2 for h in history)
    liveness = sorted(rows(indexer.engine, models.LivenessEpoch), key=lambda r: r["epoch"])
    assert [r["gpu_indexes"] for r in liveness] == [[0, 2], [1, 2]]
    assert [r["online_gops"] for r in liveness] == [1_700_000 + 2_600_000] * 2
    configs = sorted(rows(indexer.engine, models.OracleConfig), key=lambda r: r["version"])
    assert [c["version"] for c in configs] == [1, 2]
    assert configs[1]["oracles"] == [o.address for o in scenario.oracles]

    with session_factory(indexer.engine)() as session:
        kinds = [c.kind for c in changes_since(session)]
        assert latest_change_id(session) == len(kinds)
        assert [c.kind for c in changes_since(session, after_id=len(kinds) - 1)] == kinds[-1:]
    for kind in ("provider_registered", "gpu_attested", "gpu_online", "gpu_offline", "gpu_revoked"):
        assert kind in kinds
    assert model_text(bytes.fromhex(MI300.encode().hex())) == MI300

    checkpoint = indexer.store.checkpoint()
    assert checkpoint is not None and checkpoint.indexed_block == indexer.rpc.block_number()


def test_online_capacity_counts_only_verified_gpus(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    p = scenario.register()
    agent = scenario.authorize(p)
    scenario.attest(p, agent, 2, gops=1_000_000)
    scenario.attest(p, agent, model=MI300, memory=206_158_430_208, gops=2_600_000)
    scenario.retire(0)  # still sends heartbeats, no longer verified
    scenario.liveness([0, 1, 2])
    indexer = make_indexer()
    indexer.sync()
    (record,) = rows(indexer.engine, models.LivenessEpoch)
    assert record["online_count"] == 3
    assert record["online_gops"] == 1_000_000 + 2_600_000


def test_each_gpu_keeps_its_availability_and_health_from_the_last_epoch(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    p = scenario.register()
    agent = scenario.authorize(p)
    keys = scenario.attest(p, agent, 4)
    # GPU 0 busy, GPU 1 unhealthy, GPU 2 both, GPU 3 never online.
    scenario.liveness([0, 1, 2], {0: GpuStatus.HEALTHY, 1: GpuStatus.AVAILABLE, 2: GpuStatus.NONE})
    indexer = make_indexer()
    indexer.sync()
    gpus = {r["gpu_key"]: r for r in rows(indexer.engine, models.Gpu)}
    status = [(gpus["0x" + k.hex()]["available"], gpus["0x" + k.hex()]["healthy"]) for k in keys]
    assert status == [(False, True), (True, False), (False, False), (None, None)]
    (record,) = rows(indexer.engine, models.LivenessEpoch)
    assert (record["online_count"], record["available_count"], record["healthy_count"]) == (3, 1, 1)

    # Next epoch: GPU 1 recovers, GPU 0 goes offline (its status is then unknown).
    scenario.liveness([1, 2])
    indexer.sync()
    gpus = {r["gpu_key"]: r for r in rows(indexer.engine, models.Gpu)}
    status = [(gpus["0x" + k.hex()]["available"], gpus["0x" + k.hex()]["healthy"]) for k in keys]
    assert status == [(None, None), (True, True), (True, True), (None, None)]
    with session_factory(indexer.engine)() as session:
        changes = [(c.kind, c.subject) for c in changes_since(session)]
    unhealthy = [s for k, s in changes if k == "gpu_unhealthy"]
    healthy = [s for k, s in changes if k == "gpu_healthy"]
    assert unhealthy == ["0x" + keys[1].hex(), "0x" + keys[2].hex()]
    assert healthy == ["0x" + keys[1].hex(), "0x" + keys[2].hex()]


def test_incremental_equals_rebuild_and_replay_changes_nothing(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    incremental = make_indexer("incremental", finality=3)
    p = scenario.register()
    incremental.sync()
    agent = scenario.authorize(p)
    scenario.attest(p, agent, 3)
    incremental.sync()
    scenario.liveness([0, 1])
    scenario.retire(1)
    incremental.sync()
    # replaying an already indexed range changes nothing
    before = dump(incremental.engine)
    checkpoint = incremental.store.checkpoint()
    assert checkpoint is not None
    logs = incremental.reader.get_logs(checkpoint.start_block, checkpoint.indexed_block)
    events = [e for e in map(incremental.decoder.decode, logs) if e]
    replay = Batch(checkpoint.start_block, checkpoint.indexed_block, "0x", events, [], 0, 0)
    assert incremental.store.write(replay) == 0
    assert dump(incremental.engine) == before

    fresh = make_indexer("fresh")
    fresh.sync(target=checkpoint.indexed_block)
    assert dump(fresh.engine) == before


def test_reorg_rolls_back_to_the_common_ancestor(
    w3: Web3, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    p = scenario.register()
    agent = scenario.authorize(p)
    scenario.attest(p, agent, 2)
    indexer = make_indexer("follower", finality=10)
    indexer.sync()
    fork_block = w3.eth.block_number
    with scenario.dropped_branch(p, *scenario.oracles):
        # the branch that will be dropped: several blocks of changes
        scenario.update(p, "dropped-region")
        scenario.attest(p, agent, 1)
        scenario.liveness([0, 1, 2])
        scenario.revoke_agent(p, agent)
        indexer.sync()
        assert any(r["region"] == "dropped-region" for r in rows(indexer.engine, models.Provider))
        dropped_tip = w3.eth.block_number
        assert dropped_tip - fork_block >= 4

    # the canonical branch: different transactions, and longer
    scenario.providers = [p]
    scenario.epoch = 0
    scenario.update(p, "canonical-region")
    scenario.liveness([1])
    for _ in range(4):
        w3.provider.make_request("evm_mine", [])
    indexer.sync()

    fresh = make_indexer("fresh")
    checkpoint = indexer.store.checkpoint()
    assert checkpoint is not None and checkpoint.indexed_block == w3.eth.block_number
    fresh.sync(target=checkpoint.indexed_block)
    assert dump(indexer.engine) == dump(fresh.engine)
    regions = {r["region"] for r in rows(indexer.engine, models.Provider)}
    assert regions == {"canonical-region"}
    with session_factory(indexer.engine)() as session:
        assert any(
            c.kind == "reorg" and c.block_number == fork_block for c in changes_since(session)
        )


def test_reorg_deeper_than_finality_stops_and_writes_nothing(
    w3: Web3, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    p = scenario.register()
    with scenario.dropped_branch(p):
        agent = scenario.authorize(p)
        scenario.attest(p, agent, 1)
        for _ in range(6):
            scenario.update(p, "on-the-old-branch")
        indexer = make_indexer("follower", finality=3)
        indexer.sync()
        before = dump(indexer.engine)
        checkpoint_before = indexer.store.checkpoint()
        blocks_before = indexer.store.blocks()

    for _ in range(12):
        scenario.update(p, "on-the-new-branch")
    with pytest.raises(DeepReorgError) as caught:
        indexer.sync()
    assert caught.value.code == "indexer_deep_reorg"
    assert caught.value.block == min(blocks_before)
    assert dump(indexer.engine) == before
    assert indexer.store.checkpoint() == checkpoint_before
    assert indexer.store.blocks() == blocks_before


def test_a_shallow_reorg_is_not_a_deep_one(
    w3: Web3, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    """No false alarm: a reorg within the window rolls back even when the head moved past it."""
    p = scenario.register()
    indexer = make_indexer("follower", finality=3)
    indexer.sync()
    scenario.replace_branch(indexer, p, "ab", "cdefgh")
    indexer.sync()
    assert {r["region"] for r in rows(indexer.engine, models.Provider)} == {"h"}


def test_migration_check(make_db_url: Callable[[str], str]) -> None:
    engine = make_engine(make_db_url("unmigrated"))
    assert not is_at_head(engine)
    with pytest.raises(DatabaseNotMigratedError) as caught:
        require_at_head(engine)
    assert caught.value.code == "indexer_not_migrated"
    from indexer.db import migrate

    migrate(engine)
    assert is_at_head(engine)
    require_at_head(engine)
    engine.dispose()


def test_finality_by_the_nodes_finalized_tag(
    w3: Web3, scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    p = scenario.register()
    scenario.authorize(p)
    indexer = make_indexer("tagged", finality="finalized")
    indexer.sync()
    finalized = int(
        w3.provider.make_request("eth_getBlockByNumber", ["finalized", False])["result"]["number"],
        16,
    )
    checkpoint = indexer.store.checkpoint()
    assert checkpoint is not None and checkpoint.finalized_block == finalized
    kept = indexer.store.blocks()
    assert max(kept) == checkpoint.indexed_block
    assert min(kept) <= max(finalized, checkpoint.start_block)
