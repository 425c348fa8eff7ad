"""Totals at scale: a filter matching at most ``EXACT_TOTAL_LIMIT`` GPUs is counted exactly; a
broader one is estimated from a uniform sample, marked ``total_exact`` false, close to the true
count and never below the limit, on SQLite and PostgreSQL (GPU rows inserted directly, as the
bench does)."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from api import inventory
from api.db import read_only_engine, session_factory
from indexer.db import make_engine, migrate
from indexer.models import Checkpoint, Gpu, Provider

GIB = 1 << 30
ROWS = 20_000
PROVIDERS = [f"0x{i:040x}" for i in range(1, 41)]
REGIONS = ["eu-west", "us-east"]
MODELS = [("nvidia", "nvidia-h100-sxm5-80gb", 80), ("amd", "amd-mi300x", 192)]
#: the share of GPUs seen in the last epoch
ONLINE = 0.6
EPOCH = 100
Large = tuple[sessionmaker[Session], dict[str, int]]


def fill_gpus(url: str, count: int, seed: int = 7) -> dict[str, int]:
    """Migrates ``url`` and inserts ``count`` GPUs over :data:`PROVIDERS`; returns how many
    rows each vendor, region and ``provider:<address>`` has."""
    engine = make_engine(url)
    migrate(engine)
    rng = random.Random(seed)
    tally: dict[str, int] = {}
    with engine.begin() as conn:
        conn.execute(
            insert(Provider.__table__),
            [
                {
                    "address": p,
                    "name": f"provider {i}",
                    "region": REGIONS[i % len(REGIONS)],
                    "endpoint": "",
                    "metadata_uri": "",
                    "metadata_hash": "0x" + "00" * 32,
                    "status": "active",
                    "registered_block": 1,
                    "registered_at": 0,
                    "updated_block": 1,
                    "deregistered_at": None,
                }
                for i, p in enumerate(PROVIDERS)
            ],
        )
        conn.execute(
            insert(Checkpoint.__table__),
            [
                {
                    "id": 1,
                    "chain_id": 31337,
                    "contracts": {},
                    "start_block": 0,
                    "indexed_block": 5_000,
                    "indexed_hash": "0x" + "11" * 32,
                    "head_block": 5_000,
                    "finalized_block": 5_000,
                    "updated_at": 0,
                }
            ],
        )
        for base in range(0, count, 10_000):
            rows = []
            for i in range(base, min(count, base + 10_000)):
                vendor, model, memory = MODELS[rng.randrange(len(MODELS))]
                provider = PROVIDERS[i % len(PROVIDERS)]
                online = rng.random() < ONLINE
                region = REGIONS[(i % len(PROVIDERS)) % len(REGIONS)]
                for name in (vendor, region, f"provider:{provider}"):
                    tally[name] = tally.get(name, 0) + 1
                rows.append(
                    {
                        "gpu_key": "0x" + secrets.token_hex(32),
                        "provider": provider,
                        "agent": provider,
                        "gpu_index": i,
                        "vendor": vendor,
                        "vendor_id": 0x10DE,
                        "model": model,
                        "memory_bytes": memory * GIB,
                        "throughput_gops": 1_000_000 + rng.randrange(100_000),
                        "fp32_gflops": 1,
                        "fp16_gflops": 1,
                        "memory_bandwidth_gbps": 1,
                        "measured_at": 0,
                        "expires_at": 2**40,
                        "revoked": False,
                        "revoked_by_provider": None,
                        "last_seen_epoch": EPOCH if online else None,
                        "online": online,
                        "available": True if online else None,
                        "healthy": True if online else None,
                        "config_version": 1,
                        "signers": [],
                        "attestation_tx": "0x" + secrets.token_hex(32),
                        "first_attested_block": 1_000,
                        "attested_block": 1_000,
                        "updated_block": 1_000,
                    }
                )
            conn.execute(insert(Gpu.__table__), rows)
    engine.dispose()
    return tally


@pytest.fixture(scope="module")
def large(database_url: str) -> Iterator[Large]:
    tally = fill_gpus(database_url, ROWS)
    engine = read_only_engine(database_url)
    yield session_factory(engine), tally
    engine.dispose()


def first_page(factory: sessionmaker[Session], filters: inventory.GpuFilters) -> inventory.Page:
    with factory() as session:
        page: inventory.Page = inventory.list_gpus(
            session, filters, sort="gpu_key", limit=10, cursor=None, counts=inventory.LruCache()
        )
    return page


def test_a_filter_matching_few_gpus_is_counted_exactly(
    large: Large,
) -> None:
    factory, tally = large
    provider = PROVIDERS[3]
    page = first_page(factory, inventory.GpuFilters(provider=provider))
    assert page.total == tally[f"provider:{provider}"] <= inventory.EXACT_TOTAL_LIMIT
    assert page.total_exact is True


@pytest.mark.parametrize(
    ("filters", "name"),
    [
        (inventory.GpuFilters(vendor="nvidia"), "nvidia"),
        (inventory.GpuFilters(vendor="amd"), "amd"),
        (inventory.GpuFilters(region="eu-west"), "eu-west"),
        (inventory.GpuFilters(vendor="amd", min_memory=100 * GIB), "amd"),
    ],
    ids=["vendor", "vendor-2", "region", "vendor-memory"],
)
def test_a_filter_matching_many_gpus_is_estimated_and_says_so(
    large: Large, filters: inventory.GpuFilters, name: str
) -> None:
    factory, tally = large
    page = first_page(factory, filters)
    assert page.total_exact is False
    assert page.total > inventory.EXACT_TOTAL_LIMIT
    assert abs(page.total - tally[name]) <= 0.15 * tally[name], (page.total, tally[name])


def test_no_filter_is_an_exact_count_of_every_gpu(large: Large) -> None:
    factory, _ = large
    page = first_page(factory, inventory.GpuFilters())
    assert (page.total, page.total_exact) == (ROWS, True)


def test_a_filter_nothing_matches_is_an_exact_zero(large: Large) -> None:
    factory, _ = large
    page = first_page(factory, inventory.GpuFilters(vendor="intel"))
    assert (page.total, page.total_exact, page.items) == (0, True, [])
