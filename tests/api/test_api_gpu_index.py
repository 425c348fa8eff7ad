"""The in-memory GPU index (``api.inventory.columns``) gives the page SQL gives: the same rows
in the same order, the same next cursor, and the exact total, for any filter, sort and page,
on SQLite and PostgreSQL; and it keeps up with what the indexer writes (new GPUs, changed
ones, liveness records, documents, provider profiles, reorgs) without a rebuild but for a
reorg."""

from __future__ import annotations

import importlib.util
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from api import inventory
from api.capabilities import SCHEMA_NAME, attach_state, store_document
from api.db import read_only_engine, session_factory
from api.errors import InvalidFilterError
from api.inventory._tables import GPU_SOURCE
from api.inventory.columns import GpuIndex, Query, answer
from api.shared import open_shared_state
from depin.capabilities import (
    CapabilityDocument,
    GpuCapabilities,
    HostCapabilities,
    PcieCapabilities,
    document_hash,
)
from depin.crypto import to_hex
from indexer.db import make_engine
from indexer.models import Change, Gpu, LivenessEpoch

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

GPUS = 1_500
GIB = 1 << 30


@dataclass
class World:
    url: str
    writer: Engine
    factory: sessionmaker[Session]
    shared: Any
    index: GpuIndex


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """``GPUS`` GPUs as ``bench/api.py`` makes them (hosts, documents and facets, liveness),
    some of the online ones busy or unhealthy, and the API's index built over them."""
    folder = tmp_path_factory.mktemp("gpu-index")
    shared = open_shared_state(database_url, folder / "state.sqlite3")
    writer = make_engine(database_url)
    state = (
        writer
        if writer.dialect.name != "sqlite"
        else create_engine(f"sqlite:///{folder / 'state.sqlite3'}")
    ).execution_options(schema_translate_map={SCHEMA_NAME: None})
    bench.fill(writer, GPUS, None, 4, state)
    with writer.begin() as conn:
        g = Gpu.__table__.c
        seen = g.last_seen_epoch.is_not(None)
        conn.execute(
            update(Gpu.__table__).where(seen, g.gpu_index % 5 == 1).values(available=False)
        )
        conn.execute(update(Gpu.__table__).where(seen, g.gpu_index % 7 == 2).values(healthy=False))
    engine = read_only_engine(database_url)
    attach_state(engine, shared)
    factory = session_factory(engine)
    index = GpuIndex(factory, probes=False)  # the metrics are the API's own (below)
    with factory() as session:
        index._keep(index.build(session))
    yield World(database_url, writer, factory, shared, index)
    engine.dispose()
    writer.dispose()
    state.dispose()
    shared.close()


# --------------------------------------------------------------------------- side by side

REGIONS = bench.REGIONS
MODELS = [m[2] for m in bench.MODELS]
VERSIONS = st.from_regex(r"[1-9][0-9]{0,2}(\.[0-9]{1,3}){0,2}", fullmatch=True)

FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "vendor": st.sampled_from(["nvidia", "amd", "intel", "other"]),
        "model": st.sampled_from([*MODELS, "unknown-model"]),
        "min_memory": st.integers(0, 200).map(lambda g: g * GIB),
        "min_throughput": st.integers(0, 2_600_000),
        "region": st.sampled_from([*REGIONS, "nowhere"]),
        "online": st.booleans(),
        "verified": st.booleans(),
        "online_epochs": st.integers(1, 4),
        "available": st.booleans(),
        "healthy": st.booleans(),
        "min_driver": st.one_of(VERSIONS, st.just("535.104"), st.just("I915_23.10")),
        "min_cuda": st.one_of(st.sampled_from(["11.4", "12.4", "12.9", "12.10"]), VERSIONS),
        "min_rocm": st.sampled_from(["5.4", "5.7", "6.0", "6.2"]),
        "min_compute_capability": st.sampled_from(["7.0", "8.0", "8.9", "9.0", "10.0"]),
        "interconnect": st.sampled_from(["nvlink", "xgmi", "pcie"]),
        "mig": st.booleans(),
        "pcie_gen": st.integers(1, 6),
        "min_host_cpu_cores": st.integers(0, 300),
        "min_host_ram_gib": st.integers(0, 2_500),
        "min_host_disk_gib": st.integers(0, 9_000),
        "container_runtime": st.sampled_from(["docker", "podman", "nvidia-container-toolkit"]),
        "min_gpus_per_host": st.integers(1, 9),
    },
)
SORTS = st.sampled_from(list(inventory.GPU_SORTS))


def exact_total(session: Session, filters: inventory.GpuFilters, known: Any) -> int:
    where, _ = inventory.gpu_conditions(filters, known.epoch, int(time.time()), fresh=known.fresh)
    return int(session.execute(select(func.count()).select_from(GPU_SOURCE).where(*where)).scalar())


def pages(
    session: Session,
    filters: inventory.GpuFilters,
    sort: str,
    limit: int,
    index: GpuIndex | None,
    known: Any,
    count: int = 3,
) -> list[inventory.Page]:
    """The first ``count`` pages, following each next cursor."""
    out: list[inventory.Page] = []
    cursor = None
    for _ in range(count):
        page = inventory.list_gpus(
            session,
            filters,
            sort=sort,
            limit=limit,
            cursor=cursor,
            counts=inventory.LruCache(),
            known=known,
            index=index,
        )
        out.append(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    return out


def assert_same(world: World, filters: inventory.GpuFilters, sort: str, limit: int = 7) -> None:
    """The index answers (it is not the SQL path answering twice) and its pages are SQL's."""
    with world.factory() as session:
        known = inventory.snapshot(session, documents=True)
        query = Query(known.epoch, known.fresh, int(time.time()), sort, limit, None)
        assert answer(world.index, session, filters, query, known) is not None
        ours = pages(session, filters, sort, limit, world.index, known)
        theirs = pages(session, filters, sort, limit, None, known)
        total = exact_total(session, filters, known)
    assert [p.items for p in ours] == [p.items for p in theirs]
    assert [p.next_cursor for p in ours] == [p.next_cursor for p in theirs]
    assert all(p.total == total and p.total_exact for p in ours), (ours[0].total, total)
    for p in theirs:
        if p.total_exact:
            assert p.total == total


@settings(
    max_examples=70, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(FILTERS, SORTS, st.integers(1, 60))
def test_any_filter_sort_and_page_is_the_page_sql_gives(
    world: World, given_filters: dict[str, Any], sort: str, limit: int
) -> None:
    assert_same(world, inventory.GpuFilters(**given_filters), sort, limit)


@pytest.mark.parametrize("sort", ["memory", "-memory", "throughput", "-measured_at", "gpu_key"])
def test_every_page_of_a_broad_filter_in_every_sort(world: World, sort: str) -> None:
    """Walked to the end: ties of a sort value (a model's memory) are broken by key across
    page boundaries as SQL breaks them."""
    filters = inventory.GpuFilters(vendor="nvidia")
    with world.factory() as session:
        known = inventory.snapshot(session, documents=True)
        ours = pages(session, filters, sort, 97, world.index, known, count=1_000)
        theirs = pages(session, filters, sort, 97, None, known, count=1_000)
    assert [p.items for p in ours] == [p.items for p in theirs]
    assert ours[-1].next_cursor is None and len(ours) > 3
    keys = [item["gpu_key"] for p in ours for item in p.items]
    assert len(keys) == len(set(keys)) == ours[0].total


def test_a_cursor_it_cannot_compare_is_left_to_sql(world: World) -> None:
    """A cursor whose key is not one a GPU can have (not ASCII) is answered by SQL, as
    before, not misread; one whose value no column can hold is refused."""
    cursor = inventory.encode_cursor("memory", 80 * GIB, "0x\u00e9")
    with world.factory() as session:
        known = inventory.snapshot(session, documents=True)
        value, key = inventory.decode_cursor(cursor, "memory")
        query = Query(known.epoch, known.fresh, int(time.time()), "memory", 5, (value, key))
        assert answer(world.index, session, inventory.GpuFilters(), query, known) is None
        ours, theirs = (
            inventory.list_gpus(
                session,
                inventory.GpuFilters(),
                sort="memory",
                limit=5,
                cursor=cursor,
                counts=inventory.LruCache(),
                known=known,
                index=index,
            )
            for index in (world.index, None)
        )
    assert ours.items == theirs.items and len(ours.items) == 5
    with pytest.raises(InvalidFilterError, match="not one this API issued"):
        inventory.decode_cursor(inventory.encode_cursor("memory", 2**70, "0x00"), "memory")


# --------------------------------------------------------------------------- keeping up

_log = iter(range(10**6))


def change(conn: Any, kind: str, subject: str | None, block: int = 2_000_001) -> None:
    conn.execute(
        insert(Change.__table__).values(
            block_number=block, log_index=next(_log), kind=kind, subject=subject, data={}
        )
    )


def some_gpu(world: World, where: str = "1 = 1") -> dict[str, Any]:
    with world.writer.connect() as conn:
        row = conn.execute(text(f"SELECT * FROM gpus WHERE {where} ORDER BY gpu_key LIMIT 1"))
        return dict(row.mappings().one())


def moved(world: World) -> tuple[int, int]:
    return world.index.moves, world.index.rebuilds


def test_a_new_gpu_and_a_changed_one_move_the_index_forward(world: World) -> None:
    before = moved(world)
    template = some_gpu(world, "capabilities IS NOT NULL")
    new = {
        **template,
        "gpu_key": "0x" + secrets.token_hex(32),
        "gpu_index": 10**6,
        "throughput_gops": 1_234_567,
        "memory_bytes": 96 * GIB,
    }
    other = some_gpu(world, "revoked = false AND capabilities IS NULL")
    with world.writer.begin() as conn:
        conn.execute(insert(Gpu.__table__).values(**new))
        change(conn, "gpu_attested", new["gpu_key"])
        g = Gpu.__table__.c
        conn.execute(
            update(Gpu.__table__)
            .where(g.gpu_key == other["gpu_key"])
            .values(throughput_gops=2_000_001, revoked=True)
        )
        change(conn, "gpu_revoked", other["gpu_key"])
    assert_same(world, inventory.GpuFilters(min_memory=96 * GIB), "-throughput")
    assert_same(world, inventory.GpuFilters(min_throughput=1_500_000), "throughput")
    assert_same(world, inventory.GpuFilters(verified=False), "-throughput")
    assert_same(world, inventory.GpuFilters(min_cuda="11.0", vendor="nvidia"), "memory")
    moves, rebuilds = moved(world)
    assert moves > before[0] and rebuilds == before[1]
    with world.factory() as session:
        page = inventory.list_gpus(
            session,
            inventory.GpuFilters(provider=new["provider"], min_memory=96 * GIB),
            sort="gpu_key",
            limit=50,
            cursor=None,
            counts=inventory.LruCache(),
            index=world.index,
        )
    assert new["gpu_key"] in [item["gpu_key"] for item in page.items]


def test_a_liveness_record_moves_every_gpus_liveness(world: World) -> None:
    before = moved(world)
    with world.writer.begin() as conn:
        g = Gpu.__table__.c
        epoch = int(conn.execute(select(func.max(LivenessEpoch.__table__.c.epoch))).scalar())
        conn.execute(
            update(Gpu.__table__)
            .where(g.gpu_index % 3 == 0)
            .values(last_seen_epoch=epoch + 1, online=True, available=False, healthy=True)
        )
        conn.execute(
            insert(LivenessEpoch.__table__).values(
                tx_hash="0x" + secrets.token_hex(32),
                log_index=0,
                block_number=2_000_002,
                block_time=0,
                epoch=epoch + 1,
                gpu_indexes=[],
                online_count=0,
                bitmap="0x",
                available="0x",
                healthy="0x",
                config_version=1,
                signers=[],
            )
        )
        conn.execute(text("UPDATE checkpoint SET indexed_time = indexed_time + 600"))
    for filters in (
        inventory.GpuFilters(online=True, online_epochs=1),
        inventory.GpuFilters(available=False),
        inventory.GpuFilters(healthy=True, region=REGIONS[2]),
    ):
        assert_same(world, filters, "-memory")
    assert moved(world)[0] > before[0] and moved(world)[1] == before[1]


def test_a_document_arriving_moves_the_capability_filters(world: World) -> None:
    """A GPU attested with a document the API does not hold yet matches no capability
    filter; once the document is stored it does, with no change in the inventory."""
    gpu = some_gpu(world, "capabilities IS NULL")
    document = CapabilityDocument(
        host=HostCapabilities(cpu_model="X", cpu_cores=999, ram_gib=4096, container_runtimes=[]),
        gpus=[
            GpuCapabilities(
                slot="0000:01:00.0",
                gpu_key=gpu["gpu_key"],
                vendor=gpu["vendor"],
                model=gpu["model"],
                memory_bytes=gpu["memory_bytes"],
                driver_version="999.1",
                pcie=PcieCapabilities(generation=5, width=16),
            )
        ],
    )
    key = to_hex(document_hash(document))
    with world.writer.begin() as conn:
        g = Gpu.__table__.c
        conn.execute(
            update(Gpu.__table__).where(g.gpu_key == gpu["gpu_key"]).values(capabilities=key)
        )
        change(conn, "gpu_attested", gpu["gpu_key"])
    wanted = inventory.GpuFilters(min_host_cpu_cores=999)
    assert_same(world, wanted, "gpu_key")
    with world.factory() as session:
        assert exact_total(session, wanted, inventory.snapshot(session)) == 0
    before = moved(world)
    assert store_document(world.shared, document)
    assert_same(world, wanted, "gpu_key")
    assert_same(world, replace(wanted, min_driver="999.0"), "-memory")
    with world.factory() as session:
        assert exact_total(session, wanted, inventory.snapshot(session)) == 1
    assert moved(world)[0] > before[0] and moved(world)[1] == before[1]


def test_a_provider_moving_region_moves_its_gpus(world: World) -> None:
    gpu = some_gpu(world)
    with world.writer.begin() as conn:
        conn.execute(
            text("UPDATE providers SET region = 'moon-1' WHERE address = :a"),
            {"a": gpu["provider"]},
        )
        change(conn, "provider_updated", gpu["provider"])
    assert_same(world, inventory.GpuFilters(region="moon-1"), "-throughput")
    assert_same(world, inventory.GpuFilters(region=REGIONS[0]), "measured_at")


def test_a_reorg_rebuilds_it_while_sql_answers(world: World) -> None:
    with world.writer.begin() as conn:
        g = Gpu.__table__.c
        gpu = some_gpu(world, "revoked = false")
        conn.execute(
            update(Gpu.__table__).where(g.gpu_key == gpu["gpu_key"]).values(memory_bytes=7)
        )
        # the dropped blocks held the last liveness record: the liveness mark goes back
        conn.execute(
            text(
                "DELETE FROM liveness WHERE block_number = (SELECT max(block_number) FROM liveness)"
            )
        )
        change(conn, "reorg", None)
    rebuilds = world.index.rebuilds
    with world.factory() as session:
        known = inventory.snapshot(session, documents=True)
        query = Query(known.epoch, known.fresh, int(time.time()), "memory", 3, None)
        assert answer(world.index, session, inventory.GpuFilters(), query, known) is None
    deadline = time.monotonic() + 60
    while world.index.rebuilds == rebuilds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert world.index.rebuilds == rebuilds + 1
    assert_same(world, inventory.GpuFilters(), "memory")


def test_an_older_snapshot_is_answered_by_the_generation_it_names(world: World) -> None:
    with world.factory() as session:
        older = inventory.snapshot(session, documents=True)
        first = world.index.at(session, older)
    assert first is not None
    gpu = some_gpu(world, "revoked = false")
    with world.writer.begin() as conn:
        g = Gpu.__table__.c
        conn.execute(update(Gpu.__table__).where(g.gpu_key == gpu["gpu_key"]).values(revoked=True))
        change(conn, "gpu_revoked", gpu["gpu_key"])
    with world.factory() as session:
        newer = world.index.at(session, inventory.snapshot(session, documents=True))
        again = world.index.at(session, older)
    assert newer is not None and newer is not first
    assert again is first


# --------------------------------------------------------------------------- over HTTP


def test_the_api_builds_it_at_start_and_says_so(world: World, w3: Any, tmp_path: Path) -> None:
    """At start-up the index is built in the background (SQL answers meanwhile); health and
    the metrics say when it is ready, and from then on totals are exact; switched off, the
    SQL path answers alone."""
    from fastapi.testclient import TestClient

    from api import ApiSettings, create_app

    def serve(**options: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
        settings = ApiSettings(
            rpc_url=w3.provider.endpoint_uri,
            database_url=world.url,
            home=tmp_path,
            shared_state_path=getattr(world.shared, "path", tmp_path / "state.sqlite3"),
            alerts_enabled=False,
            **options,
        )
        app = create_app(settings, engine=read_only_engine(world.url))
        with TestClient(app, raise_server_exceptions=False) as client:
            deadline = time.monotonic() + 60
            while options.get("gpu_index", True) and not app.state.gpu_index.ready:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            health = client.get("/v1/health").json()["gpu_index"]
            scraped = client.get("/metrics").text
            body = client.get("/v1/gpus", params={"vendor": "nvidia", "limit": 3}).json()
        return health, scraped, body

    health, scraped, body = serve()
    with world.factory() as session:
        known = inventory.snapshot(session)
        gpus = int(session.execute(select(func.count()).select_from(Gpu.__table__)).scalar())
        total = exact_total(session, inventory.GpuFilters(vendor="nvidia"), known)
    assert health["enabled"] and health["ready"] and health["gpus"] == gpus
    assert health["built_in_s"] >= 0
    gauge = re.search(r"^depin_api_gpu_index_gpus ([0-9.e+]+)$", scraped, re.M)
    assert gauge is not None and float(gauge.group(1)) >= gpus  # every live index adds up
    assert body["total"] == total and body["total_exact"] is True
    health, scraped, body = serve(gpu_index=False)
    assert health == {"enabled": False, "ready": False, "gpus": None, "built_in_s": None}
    assert body["total_exact"] is (total <= inventory.EXACT_TOTAL_LIMIT)
    assert len(body["items"]) == 3


@pytest.mark.parametrize(
    "values",
    [[None, 0, 5, 300], [None, -3, 70_000], [None, 2**40, 1], [None, None], [2**62, -(2**62)]],
)
@pytest.mark.parametrize("minimum", [-(2**63) + 1, -40_000, -4, 0, 5, 299, 300, 70_001, 2**41])
def test_a_narrowed_column_compares_as_sql_compares(values: list[int | None], minimum: int) -> None:
    """A column kept in int16 or int32 matches a minimum as the int64 column would, out of
    the narrow type's range too; NULL never matches."""
    from api.inventory.columns import NULL, _narrowed, at_least

    column = np.array([NULL if v is None else v for v in values], dtype=np.int64)
    expected = [v is not None and v >= minimum for v in values]
    assert at_least(_narrowed(column), minimum).tolist() == expected
