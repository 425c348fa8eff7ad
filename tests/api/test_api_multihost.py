"""The API as real processes (``depin api serve`` on a port): a relayer transaction left
behind by a killed process is taken up by its successor with no request arriving, and, on one
PostgreSQL database, two hosts with separate home folders share SIWE nonces, rate limits and
the relayer's nonce."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import SIWE_DOMAIN, assert_problem, postgres_database
from eth_account import Account
from eth_account.signers.local import LocalAccount
from test_api_relay import wallet_sign
from test_api_siwe import sign, siwe_text

from depin._cli.supervisor import stop_group
from depin.chain import ANVIL_KEYS, free_port
from depin.registry import RegistryClient, Status
from indexer.db import make_engine, migrate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RELAYER: LocalAccount = Account.from_key(ANVIL_KEYS[1])


@dataclass
class ApiProcess:
    home: Path
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.home / "api.log"

    def start(self, timeout: float = 60.0) -> ApiProcess:
        self.port = free_port()
        argv = [sys.executable, "-c", "from depin.cli import main; main()"]
        argv += ["api", "serve", "--port", str(self.port), "--log-level", "warning"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env, "DEPIN_API_HOME": str(self.home)},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the API exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/openapi.json", timeout=1.0).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the API is not ready: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_group(self.process, timeout=15, sig=sig)
        self.process = None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60.0)


@pytest.fixture
def make_api(tmp_path: Path, registry: RegistryClient) -> Iterator[Callable[..., ApiProcess]]:
    started: list[ApiProcess] = []

    def make(database_url: str, name: str = "api", **env: Any) -> ApiProcess:
        home = tmp_path / name
        home.mkdir(exist_ok=True)
        api = ApiProcess(
            home,
            {
                "DEPIN_API_RPC_URL": registry.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
                "DEPIN_API_DATABASE_URL": database_url,
                "DEPIN_API_REGISTRY_ADDRESS": registry.address,
                "DEPIN_API_SIWE_DOMAIN": SIWE_DOMAIN,
                "DEPIN_API_IP_BURST": "100000",
                **{f"DEPIN_API_{k.upper()}": str(v) for k, v in env.items()},
            },
        )
        started.append(api)
        return api

    yield make
    for api in started:
        api.stop(signal.SIGKILL)


def _migrated(url: str) -> str:
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return _migrated(f"sqlite:///{tmp_path / 'inventory.sqlite'}")


@pytest.fixture
def postgres_db() -> Iterator[str]:
    for url in postgres_database():
        yield _migrated(url)


def _signed_registration(api: httpx.Client, provider: LocalAccount) -> dict[str, Any]:
    response = api.post(
        "/v1/typed-data/registration",
        json={"provider": provider.address, "name": "Acme GPU", "region": "eu-west"},
    )
    assert response.status_code == 200, response.text
    typed = response.json()["typed_data"]
    return {"typed_data": typed, "signature": wallet_sign(provider, typed)}


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_dropped_relay_transaction_of_a_killed_api_is_sent_again_by_its_successor(
    make_api: Callable[..., ApiProcess], sqlite_db: str, registry: RegistryClient
) -> None:
    w3 = registry.w3
    provider: LocalAccount = Account.create()
    first = make_api(sqlite_db, relay_follow_s=0.2).start()
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        with first.client() as api:
            response = api.post("/v1/relay", json=_signed_registration(api, provider))
        assert response.status_code == 202, response.text
        tx_hash = response.json()["tx_hash"]
        w3.provider.make_request("anvil_dropTransaction", [tx_hash])  # type: ignore[arg-type]
        first.stop(signal.SIGKILL)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert registry.record(provider.address).status is not Status.ACTIVE  # it went nowhere

    make_api(sqlite_db, relay_follow_s=0.2).start()  # the same home: the same ledger; no request
    _wait_for(
        lambda: registry.record(provider.address).status is Status.ACTIVE,
        60,
        "the successor to send the relayed registration again",
    )
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1


def test_a_siwe_nonce_from_one_host_signs_in_once_across_both(
    make_api: Callable[..., ApiProcess], postgres_db: str
) -> None:
    hosts = [make_api(postgres_db, name=name).start() for name in ("a", "b")]
    account: LocalAccount = Account.create()
    with hosts[0].client() as a, hosts[1].client() as b:
        nonce = a.get("/v1/auth/nonce").json()["nonce"]
        text = siwe_text(account.address, nonce)
        body = {"message": text, "signature": sign(account, text)}
        signed_in = b.post("/v1/auth/verify", json=body)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["address"] == account.address
        assert_problem(a.post("/v1/auth/verify", json=body), 409, "nonce_used")
        assert_problem(b.post("/v1/auth/verify", json=body), 409, "nonce_used")
    assert not (hosts[0].home / "api-state.sqlite3").exists()  # nothing kept per host


def test_rate_limits_add_up_across_hosts(
    make_api: Callable[..., ApiProcess], postgres_db: str
) -> None:
    hosts = [
        make_api(postgres_db, name=name, ip_burst=4, ip_rate=0.01).start() for name in ("a", "b")
    ]
    with hosts[0].client() as a, hosts[1].client() as b:
        answers = [(a, b)[i % 2].get("/v1/auth/nonce") for i in range(6)]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429, 429]
    assert_problem(answers[-1], 429, "rate_limited")


def test_concurrent_relays_on_two_hosts_never_reuse_a_relayer_nonce(
    make_api: Callable[..., ApiProcess], postgres_db: str, registry: RegistryClient
) -> None:
    w3 = registry.w3
    hosts = [make_api(postgres_db, name=name).start() for name in ("a", "b")]
    providers: list[LocalAccount] = [Account.create() for _ in range(50)]
    with hosts[0].client() as a, hosts[1].client() as b:
        clients = (a, b)
        bodies = [_signed_registration(clients[i % 2], p) for i, p in enumerate(providers)]
        first_nonce = w3.eth.get_transaction_count(RELAYER.address, "pending")

        def relay(i: int) -> httpx.Response:
            return clients[i % 2].post("/v1/relay", json=bodies[i])

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(relay, range(50)))
    assert [r.status_code for r in answers] == [202] * 50, [
        r.text for r in answers if r.status_code != 202
    ]
    hashes = [r.json()["tx_hash"] for r in answers]
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=60) for h in hashes]
    assert all(r["status"] == 1 for r in receipts)
    nonces = sorted(int(w3.eth.get_transaction(h)["nonce"]) for h in hashes)
    assert nonces == list(range(first_nonce, first_nonce + 50))  # distinct and contiguous
    assert all(registry.record(p.address).status is Status.ACTIVE for p in providers)
