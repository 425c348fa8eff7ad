"""The capability document hash each attestation names, on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from indexer_helpers import BACKENDS, Scenario, rows

from indexer import models
from indexer.service import Indexer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("make_db_url", BACKENDS, indirect=True),
]

DOCUMENT = bytes.fromhex("ab" * 32)
NEWER = bytes.fromhex("cd" * 32)


def test_each_gpu_keeps_the_document_hash_of_its_latest_attestation(
    scenario: Scenario, make_indexer: Callable[..., Indexer]
) -> None:
    provider = scenario.register()
    agent = scenario.authorize(provider)
    (described,) = scenario.attest(provider, agent, capabilities=DOCUMENT)
    (plain,) = scenario.attest(provider, agent)
    indexer = make_indexer()
    indexer.sync()
    gpus = {r["gpu_key"]: r for r in rows(indexer.engine, models.Gpu)}
    assert gpus["0x" + described.hex()]["capabilities"] == "0x" + DOCUMENT.hex()
    assert gpus["0x" + plain.hex()]["capabilities"] is None  # the zero word: no document

    # a re-attestation with another document replaces it; the history keeps both
    measured = scenario.now()
    while scenario.now() <= measured:  # a later measurement: the chain's clock moves on
        time.sleep(0.2)
        scenario.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    scenario.attest(provider, agent, key=described, capabilities=NEWER)
    indexer.sync()
    gpus = {r["gpu_key"]: r for r in rows(indexer.engine, models.Gpu)}
    assert gpus["0x" + described.hex()]["capabilities"] == "0x" + NEWER.hex()
    history = [
        r["capabilities"]
        for r in sorted(rows(indexer.engine, models.Attestation), key=lambda r: r["block_number"])
        if r["gpu_key"] == "0x" + described.hex()
    ]
    assert history == ["0x" + DOCUMENT.hex(), "0x" + NEWER.hex()]
