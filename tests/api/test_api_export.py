"""CSV export of a filter (``GET /v1/gpus`` with ``Accept: text/csv``): every matching GPU, with
a header row, in the pages' keyset order, read in chunks so memory stays bounded."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from api_helpers import assert_problem
from fastapi.testclient import TestClient
from inventory_world import World
from sqlalchemy import event
from test_api_totals_scale import fill_gpus

from api import inventory
from api.db import read_only_engine, session_factory

CSV = {"Accept": "text/csv"}


@pytest.fixture(scope="module")
def client(world_api: TestClient) -> TestClient:
    return world_api


def paged(client: TestClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/gpus", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def exported(client: TestClient, params: dict[str, Any]) -> list[dict[str, str]]:
    response = client.get("/v1/gpus", params=params, headers=CSV)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert int(response.headers["x-as-of-block"]) > 0
    reader = csv.DictReader(io.StringIO(response.text))
    assert tuple(reader.fieldnames or ()) == inventory.CSV_FIELDS
    return list(reader)


@pytest.mark.parametrize(
    "params",
    [{}, {"vendor": "nvidia", "sort": "-throughput"}, {"region": "eu-west", "sort": "memory"}],
    ids=["all", "vendor-by-throughput", "region-by-memory"],
)
def test_the_export_has_the_rows_of_the_pages_in_their_order(
    client: TestClient, params: dict[str, Any]
) -> None:
    pages = paged(client, params)
    rows = exported(client, params)
    assert [r["gpu_key"] for r in rows] == [i["gpu_key"] for i in pages]
    assert pages, "the filter matches some GPUs"
    for row, item in zip(rows, pages, strict=True):
        assert row["model"] == item["model"]
        assert int(row["throughput_gops"]) == item["throughput_gops"]
        assert row["region"] == (item["region"] or "")
        assert row["online"] == {True: "true", False: "false", None: ""}[item["online"]]


def test_the_export_ignores_the_page_size(client: TestClient, world: World) -> None:
    assert len(exported(client, {"limit": 1})) == len(world.gpus)


def test_a_filter_matching_nothing_exports_the_header_alone(client: TestClient) -> None:
    assert exported(client, {"vendor": "intel"}) == []


def test_an_export_with_a_foreign_cursor_is_refused_before_streaming(client: TestClient) -> None:
    response = client.get("/v1/gpus", params={"cursor": "not-a-cursor"}, headers=CSV)
    assert_problem(response, 400, "invalid_filter")


def test_an_export_with_a_bad_filter_is_refused(client: TestClient) -> None:
    response = client.get("/v1/gpus", params={"sort": "price"}, headers=CSV)
    assert_problem(response, 400, "invalid_filter")


@pytest.mark.slow
def test_an_export_of_100k_gpus_reads_chunks_and_holds_one_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    count = 100_000
    fill_gpus(url, count)
    engine = read_only_engine(url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    factory = session_factory(engine)
    size = lines = 0
    with factory() as session:
        known = inventory.snapshot(session)
        chunks = inventory.gpu_csv(session, inventory.GpuFilters(), known, sort="-throughput")
        header = next(chunks)  # imports and compiled statements are not the export's memory
        lines, size = 1, len(header)
        tracemalloc.start()
        try:
            for chunk in chunks:
                size += len(chunk)
                lines += chunk.count(b"\n")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            engine.dispose()
    print(f"exported {size:,} bytes, peak {peak:,} bytes traced")
    assert lines == count + 1
    reads = [s for s in statements if "FROM gpus" in s and "LIMIT" in s]
    assert len(reads) == count // inventory.EXPORT_CHUNK + 1  # the last one finds no more
    assert peak < size / 10, (peak, size)  # a few hundred rows at a time, not 100,000


@pytest.mark.parametrize("headers", [CSV, {}], ids=["csv", "json"])
def test_a_filter_holding_a_nul_character_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/v1/gpus", params={"model": "nvidia\x00"}, headers=headers)
    assert_problem(response, 400, "invalid_filter")


def test_format_csv_exports_as_the_accept_header_does(client: TestClient) -> None:
    """A plain link (no Accept header) downloads the same CSV with ``format=csv``."""
    params = {"vendor": "nvidia", "sort": "-memory"}
    response = client.get("/v1/gpus", params={**params, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert list(csv.DictReader(io.StringIO(response.text))) == exported(client, params)
    # format=json answers a page whatever the Accept header says
    page = client.get("/v1/gpus", params={**params, "format": "json"}, headers=CSV)
    assert page.headers["content-type"].startswith("application/json")
    assert_problem(client.get("/v1/gpus", params={"format": "xml"}), 400, "invalid_filter")
