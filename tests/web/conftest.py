"""Fixtures of the browser suite: a real stack (anvil events, the indexer, the API under uvicorn)
and headless Chromium driven by Playwright.

The inventory is never written by hand: providers register and authorize agents on the
ProviderRegistry, agents sign GpuAttestations that two of three oracles co-sign and submit to the
AttestationOracle, and the indexer turns those events into the database the API reads.
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# tests/ is on sys.path (rootdir conftest) and tests/api would shadow the api package as a
# namespace package: put the project root first.
sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EPOCH_LENGTH,
    H100,
    L4,
    MI300X,
    Stack,
    chain_now,
    free_port,
)

from api import ApiSettings, create_app
from api.chain import ChainContext
from api.db import read_only_engine
from depin.attestation_client import AttestationClient
from depin.deploy import deploy_attestation_oracle
from depin.registry import RegistryClient
from indexer.db import make_engine, migrate
from indexer.service import Indexer, wait_until
from indexer.settings import IndexerSettings


@pytest.fixture
def stack(
    w3: Web3,
    registry: RegistryClient,
    make_account: Callable[..., LocalAccount],
    make_provider: Callable[..., LocalAccount],
    relayer: LocalAccount,
    home: Path,
    tmp_path: Path,
) -> Iterator[Stack]:
    """Two providers with four attested GPUs (one attested twice), three of them live; the
    indexer follows the chain in the background and the API serves on a free local port."""
    oracles = [make_account() for _ in range(3)]
    deployment = deploy_attestation_oracle(
        w3,
        make_account(),
        home / "deployments",
        registry=registry.address,
        oracles=[o.address for o in oracles],
        threshold=2,
        epoch_length=EPOCH_LENGTH,
    )
    oracle = AttestationClient(w3, deployment.address)

    database = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    writer = make_engine(database)
    migrate(writer)
    indexer = Indexer(
        IndexerSettings(
            rpc_url=w3.provider.endpoint_uri,  # type: ignore[attr-defined]
            home=home,
            database_url=database,
            finality=0,
            poll_interval=0.1,
        ),
        engine=writer,
    )
    indexer.prepare()

    port = free_port()
    settings = ApiSettings(
        rpc_url=w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        home=home,
        database_url=database,
        registry_address=registry.address,
        siwe_domain=f"127.0.0.1:{port}",
        ip_burst=10_000,
        address_burst=10_000,
        sse_poll_interval=0.2,
    )
    chain = ChainContext(w3, registry, relayer, int(w3.eth.chain_id))
    app = create_app(settings, chain=chain, engine=read_only_engine(database))

    s = Stack(f"http://127.0.0.1:{port}", w3, registry, oracle, oracles, indexer)
    now = chain_now(w3)
    acme = make_provider(name="Acme GPU", region="eu-west")
    boreal = make_provider(name="Boreal Compute", region="us-east")
    for name, provider in (("acme", acme), ("boreal", boreal)):
        agent = make_account(fund=False)
        registry.authorize_agent(provider, agent.address, now + 30 * 86400)
        s.providers[name] = provider
        s.agents[name] = agent
    h100_uuid = f"GPU-{os.urandom(16).hex()}"
    first = s.attest(acme, s.agents["acme"], [H100], uuids=[h100_uuid], age=120)
    s.gpus += s.attest(acme, s.agents["acme"], [L4])
    s.gpus += s.attest(boreal, s.agents["boreal"], [MI300X, H100], signers=(1, 2))
    again = s.attest(acme, s.agents["acme"], [H100], uuids=[h100_uuid], signers=(0, 2))
    first[0].tx_hashes += again[0].tx_hashes
    s.gpus.insert(0, first[0])
    s.record_liveness([g.index for g in s.gpus if g.model != L4[2]])
    s.sync()

    stop = threading.Event()
    follower = threading.Thread(target=indexer.follow, args=(stop,), daemon=True)
    follower.start()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
    )
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    assert wait_until(lambda: server.started, 20), "uvicorn did not start"
    try:
        yield s
    finally:
        server.should_exit = True
        serving.join(10)
        stop.set()
        follower.join(10)
        writer.dispose()


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (no browser download: executable_path)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser page; fails the test on a JavaScript error or a console error."""
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def on_console(msg: Any) -> None:
        # A 404 answer is how the pages learn that a provider is not registered yet.
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            errors.append(f"console {msg.type}: {msg.text}")

    pg.on("console", on_console)
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert not errors, errors
