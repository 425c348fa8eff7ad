"""Filtered totals are counted once per inventory change, not once per indexed block: a
commit that changed no provider and no GPU reuses the total, any change recounts it."""

from __future__ import annotations

from pathlib import Path

import pytest
from inventory_world import World, build_world, index_world
from web3 import Web3

from api import inventory
from api.db import read_only_engine, session_factory
from depin.registry import Profile
from indexer.service import Indexer
from indexer.settings import IndexerSettings

pytestmark = pytest.mark.integration


class CountingCache(inventory.LruCache):
    def __init__(self) -> None:
        super().__init__()
        self.counted = 0

    def put(self, key: object, value: object) -> None:
        # the totals (beside them the cache holds what a total was read with: the matching
        # keys, the sample's shares, the number of GPUs, each as often)
        if isinstance(key, tuple) and key[0] == "gpus":
            self.counted += 1
        super().put(key, value)


def test_totals_follow_changes_not_blocks(w3: Web3, tmp_path: Path) -> None:
    world: World = build_world(w3, tmp_path / "world")
    url = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    home = tmp_path / "home"
    home.mkdir()
    index_world(world, url, home).dispose()
    indexer = Indexer(
        IndexerSettings(
            rpc_url=w3.provider.endpoint_uri,  # type: ignore[attr-defined]
            home=home,
            database_url=url,
            finality=0,
        ),
        contracts=world.contracts,
    )
    factory = session_factory(read_only_engine(url))
    counts = CountingCache()
    in_eu = inventory.GpuFilters(region="eu-west")

    def page() -> inventory.Page:
        with factory() as session:
            return inventory.list_gpus(
                session, in_eu, sort="gpu_key", limit=50, cursor=None, counts=counts
            )

    first = page()
    assert first.total > 0 and counts.counted == 1

    w3.provider.make_request("anvil_mine", [5])  # type: ignore[arg-type]
    indexer.sync()
    quiet = page()
    assert quiet.as_of_block >= first.as_of_block + 5  # the page is of the new block ...
    assert (quiet.total, counts.counted) == (first.total, 1)  # ... its total was not recounted

    moving = world.providers["eu-west"]
    world.registry.update_profile(moving, Profile("eu-west compute", "us-east", "https://x"))
    indexer.sync()
    moved = page()
    assert counts.counted == 2
    assert moved.total == first.total - sum(
        1 for gpu in world.gpus if gpu["provider"] == moving.address
    )
