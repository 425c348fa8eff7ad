"""Query plans of the explorer's pages on SQLite: a page walks an index in the sort order and
stops after a page, rather than collecting a broad filter's rows and sorting them; a capped
total, the estimate's sample and the search's model seek read indexes (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import postgres_database
from sqlalchemy import Engine, text
from test_api_totals_scale import fill_gpus

from api import inventory
from api.inventory.search import model_seek
from api.inventory.totals import capped_count, sample_count
from indexer.db import make_engine, migrate

FILTERS = inventory.GpuFilters(vendor="nvidia", min_memory=40 << 30, online=True)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('plans') / 'plans.sqlite'}")
    migrate(engine)
    yield engine
    engine.dispose()


def plan(engine: Engine, sort: str, filters: inventory.GpuFilters = FILTERS) -> str:
    statement = inventory.gpu_page_statement(filters, 100, 0, sort, 50, None, "sqlite")
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("-throughput", "ix_gpus_vendor_throughput"),
        ("throughput", "ix_gpus_vendor_throughput"),
        ("-memory", "ix_gpus_vendor_memory"),
        ("memory", "ix_gpus_vendor_memory"),
    ],
)
def test_a_vendor_sorted_by_throughput_or_memory_starts_at_the_vendors_rows(
    engine: Engine, sort: str, index: str
) -> None:
    found = plan(engine, sort)
    assert f"USING INDEX {index} (vendor=?" in found, found
    assert "TEMP B-TREE" not in found, found  # no sort of the filtered rows


def test_the_default_order_walks_the_primary_key_without_sorting(engine: Engine) -> None:
    found = plan(engine, "gpu_key")
    assert "TEMP B-TREE" not in found, found


def count_plan(engine: Engine, filters: inventory.GpuFilters) -> str:
    from sqlalchemy import func, select

    from indexer.models import Gpu

    where, _ = inventory.gpu_conditions(filters, 100, 0)
    statement = select(func.count()).select_from(Gpu.__table__).where(*where)
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(
    "filters",
    [
        inventory.GpuFilters(online=True),
        inventory.GpuFilters(available=True),
        inventory.GpuFilters(available=True, healthy=True),
        inventory.GpuFilters(healthy=False),
    ],
    ids=["online", "available", "available-healthy", "unhealthy"],
)
def test_liveness_totals_read_the_liveness_index_not_the_table(
    engine: Engine, filters: inventory.GpuFilters
) -> None:
    found = count_plan(engine, filters)
    assert "COVERING INDEX ix_gpus_liveness (last_seen_epoch>?)" in found, found
    assert "SCAN gpus" not in found, found


def test_a_vendor_page_filtered_by_availability_still_walks_the_vendor_index(
    engine: Engine,
) -> None:
    filters = inventory.GpuFilters(vendor="nvidia", available=True, healthy=True)
    found = plan(engine, "-throughput", filters)
    assert "USING INDEX ix_gpus_vendor_throughput (vendor=?" in found, found
    assert "TEMP B-TREE" not in found, found


# --------------------------------------------------------------------------- totals and search


def sqlite_plan(engine: Engine, statement: Any) -> str:
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_a_capped_total_of_a_vendor_and_memory_reads_their_index(engine: Engine) -> None:
    where, _ = inventory.gpu_conditions(
        inventory.GpuFilters(vendor="nvidia", min_memory=40 << 30), 100, 0
    )
    found = sqlite_plan(engine, capped_count(where, False, inventory.EXACT_TOTAL_LIMIT))
    assert "INDEX ix_gpus_vendor_memory (vendor=? AND memory_bytes>?)" in found, found
    assert "SCAN gpus" not in found, found


def test_the_estimates_sample_is_a_range_of_the_primary_key(engine: Engine) -> None:
    where, _ = inventory.gpu_conditions(inventory.GpuFilters(vendor="nvidia"), 100, 0)
    found = sqlite_plan(engine, sample_count(where, True, 1_000_000))
    assert "SEARCH gpus USING INDEX sqlite_autoindex_gpus_1 (gpu_key<?)" in found, found


def test_a_model_prefix_seeks_the_model_index(engine: Engine) -> None:
    found = sqlite_plan(engine, model_seek("nvidia", True, "nvidia\U0010ffff"))
    assert "COVERING INDEX ix_gpus_model (model>? AND model<?)" in found, found
    assert "TEMP B-TREE" not in found, found


@pytest.fixture(scope="module")
def postgres() -> Iterator[Engine]:
    for url in postgres_database():
        fill_gpus(url, 20_000)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        yield engine
        engine.dispose()


def postgres_plan(engine: Engine, statement: Any) -> str:
    compiled = statement.compile(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).all()
    return "\n".join(str(row[0]) for row in rows)


@pytest.mark.postgres
def test_on_postgres_the_sample_and_the_model_seek_read_indexes(postgres: Engine) -> None:
    where, _ = inventory.gpu_conditions(inventory.GpuFilters(vendor="nvidia"), 100, 0)
    found = postgres_plan(postgres, sample_count(where, False, 1_000_000))
    assert "Index Scan on pk_gpus" in found, found
    assert "Seq Scan on gpus" not in found, found
    found = postgres_plan(postgres, model_seek("nvidia", True, "nvidia\U0010ffff"))
    assert "ix_gpus_model" in found and "Seq Scan" not in found, found


# --------------------------------------------------------------------------- every sort order


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("memory", "ix_gpus_memory_key"),
        ("-memory", "ix_gpus_memory_key"),
        ("throughput", "ix_gpus_throughput_key"),
        ("measured_at", "ix_gpus_measured_at_key"),
        ("-measured_at", "ix_gpus_measured_at_key"),
    ],
)
def test_a_page_of_any_sort_order_walks_its_index_with_the_key_for_ties(
    engine: Engine, sort: str, index: str
) -> None:
    found = plan(engine, sort, inventory.GpuFilters(online=True))
    assert f"INDEX {index}" in found, found
    assert "TEMP B-TREE" not in found, found  # not even for the ties of one memory size


def test_a_page_of_known_keys_looks_each_up_by_key(engine: Engine) -> None:
    keys = [f"0x{i:064x}" for i in range(1, 6)]
    statement = inventory.gpu_page_statement(
        FILTERS, 100, 0, "-throughput", 50, None, "sqlite", keys=keys
    )
    found = sqlite_plan(engine, statement)
    assert "USING INDEX sqlite_autoindex_gpus_1 (gpu_key=?)" in found, found
    assert "SCAN gpus" not in found, found


# --------------------------------------------------------------------------- capability facets


@pytest.fixture(scope="module")
def with_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An inventory whose connections see a migrated API state (the facets' tables)."""
    from types import SimpleNamespace

    from api.capabilities import attach_state
    from api.shared import SharedState

    folder = tmp_path_factory.mktemp("facets")
    SharedState(folder / "state.sqlite3").close()
    engine = make_engine(f"sqlite:///{folder / 'inventory.sqlite'}")
    attach_state(engine, SimpleNamespace(path=folder / "state.sqlite3"))
    migrate(engine)
    yield engine
    engine.dispose()


def joined_count(filters: inventory.GpuFilters, shares: list[float | None]) -> Any:
    where, _ = inventory.gpu_conditions(filters, 100, 0, facets_as="join", store="sqlite")
    return capped_count(inventory.hinted(where, shares), False, inventory.EXACT_TOTAL_LIMIT)


def test_a_count_starts_from_the_index_of_the_term_that_keeps_fewest_rows(
    with_state: Engine,
) -> None:
    filters = inventory.GpuFilters(min_memory=200 << 30, min_driver="470")
    # memory keeps nothing, the driver nearly everything: the memory index first
    found = sqlite_plan(with_state, joined_count(filters, [0.0005, None, None, 0.99]))
    assert "SEARCH gpus USING INDEX ix_gpus_memory_key (memory_bytes>?)" in found, found
    assert "capability_facets USING INDEX sqlite_autoindex_capability_facets_1" in found, found
    # the other way round: the driver's facet index first, each GPU by its key
    found = sqlite_plan(with_state, joined_count(filters, [0.99, None, None, 0.0005]))
    assert "capability_facets USING INDEX ix_capability_facets_driver_key" in found, found
    assert "SEARCH gpus USING INDEX sqlite_autoindex_gpus_1 (gpu_key=?)" in found, found


def test_a_page_with_capability_filters_walks_its_order_with_a_lookup_per_gpu(
    with_state: Engine,
) -> None:
    filters = inventory.GpuFilters(vendor="nvidia", min_cuda="12.4", mig=True)
    statement = inventory.gpu_page_statement(filters, 100, 0, "-throughput", 50, None, "sqlite")
    found = sqlite_plan(with_state, statement)
    assert "USING INDEX ix_gpus_vendor_throughput (vendor=?" in found, found
    assert "USING INDEX sqlite_autoindex_capability_facets_1" in found, found
    assert "TEMP B-TREE" not in found, found


@pytest.mark.postgres
def test_on_postgres_a_walk_looks_each_gpus_facets_up_in_key_order(postgres: Engine) -> None:
    from sqlalchemy import select

    from api.inventory._tables import G
    from api.migrate import migrate_state
    from indexer.models import Gpu

    migrate_state(postgres)
    filters = inventory.GpuFilters(min_cuda="12.4", mig=True)
    where, _ = inventory.gpu_conditions(filters, 100, 0, facets_as="walk")
    statement = (
        select(G.gpu_key).select_from(Gpu.__table__).where(*where).order_by(G.gpu_key).limit(1001)
    )
    compiled = statement.compile(postgres)
    sql = str(compiled).replace("api_state.", "")  # the API's tables in the default schema
    with postgres.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN " + sql, compiled.params).all()
    found = "\n".join(str(row[0]) for row in rows)
    assert "Index Scan using pk_gpus on gpus" in found, found
    assert "SubPlan" in found and "pk_capability_facets" in found, found
    assert "Hash" not in found, found  # no join of every matching facet row first


@pytest.mark.postgres
def test_on_postgres_the_apis_reads_are_not_jit_compiled() -> None:
    from api.db import read_only_engine

    for url in postgres_database():
        engine = read_only_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW jit").scalar_one() == "off"
                assert conn.exec_driver_sql("SHOW transaction_read_only").scalar_one() == "on"
        finally:
            engine.dispose()
