"""Webhook alerts end to end: real chain events, the real indexer, subscriptions made through
the API, the alert worker driven tick by tick (its clock moved by the test), and real local
HTTP receivers (``http.server`` threads) that are down, failing or up."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from api_helpers import assert_problem, bearer, sign_in
from clock_helpers import FakeClock
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from inventory_world import World, new_indexer
from liveness_world import build_liveness_world
from sqlalchemy.orm import sessionmaker
from web3 import Web3

from api import ApiSettings, create_app
from api.alerts import AlertWorker, Policy, subscribe, verify
from api.chain import ChainContext
from api.db import read_only_engine
from api.shared import SharedState
from depin.chain import ANVIL_KEYS
from depin.registry import Profile
from indexer.db import make_engine, migrate
from indexer.service import Indexer
from indexer.settings import IndexerSettings

pytestmark = pytest.mark.integration

DOMAIN = "localhost:8000"


# --------------------------------------------------------------------------- a receiver


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        return self.headers["X-Depin-Idempotency-Key"]


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: records every request, answers ``status`` (or, with
    ``fail_first``, 503 to the first request of each idempotency key)."""

    port: int
    status: int = 200
    fail_first: bool = False
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got = Received(dict(self.headers.items()), body)
                seen = any(r.key == got.key for r in receiver.received)
                receiver.received.append(got)
                status = 503 if receiver.fail_first and not seen else receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                """Quiet: the tests read what arrived, not the server's log."""

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        made.append(Receiver(free_port(), **kwargs))
        return made[-1]

    yield make
    for r in made:
        r.stop()


# --------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    world: World
    indexer: Indexer
    client: TestClient
    url: str

    def worker(self, clock: FakeClock, **policy: Any) -> AlertWorker:
        app: Any = self.client.app
        defaults: dict[str, Any] = {
            "timeout_s": 2.0,
            "backoff_s": 10.0,
            "max_attempts": 20,
            "disable_after": 50,
            "allow_private": True,
        }
        return AlertWorker(
            app.state.shared,
            app.state.session_factory,
            Policy(**{**defaults, **policy}),
            clock=clock,
        )

    def started(self, *, chain_time: bool = False, **policy: Any) -> tuple[FakeClock, AlertWorker]:
        """The inventory indexed, then a worker (its clock at the chain's time with
        ``chain_time``) that has read it to its head."""
        self.indexer.sync()
        clock = FakeClock(time.time())
        if chain_time:
            clock.now = float(self.world.w3.eth.get_block("latest")["timestamp"])
        worker = self.worker(clock, **policy)
        worker.evaluate()
        return clock, worker

    sessions: dict[str, dict[str, str]] = field(default_factory=dict)

    def session(self, account: LocalAccount) -> dict[str, str]:
        """A signed-in provider's Authorization header (one sign-in per provider)."""
        if account.address not in self.sessions:
            self.sessions[account.address] = bearer(sign_in(self.client, account, domain=DOMAIN))
        return self.sessions[account.address]

    def subscribe(
        self, account: LocalAccount, url: str, *events: str, **extra: Any
    ) -> dict[str, Any]:
        response = self.client.post(
            "/v1/console/subscriptions",
            json={"url": url, "events": list(events), **extra},
            headers=self.session(account),
        )
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made

    def log(self, account: LocalAccount, sub_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/v1/console/subscriptions/{sub_id}", headers=self.session(account)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def make_stack(world: World, url: str, home: Path, **settings: Any) -> Iterator[Stack]:
    engine = make_engine(url)
    migrate(engine)
    indexer = Indexer(
        IndexerSettings(
            rpc_url=world.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
            home=home,
            database_url=url,
            finality=16,  # recent block hashes kept: a shallow reorg is rolled back
        ),
        engine=engine,
        contracts=world.contracts,
    )
    app_settings = ApiSettings(
        rpc_url=world.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        home=home,
        database_url=url,
        registry_address=world.registry.address,
        alerts_enabled=False,  # the test drives the worker
        ip_burst=10_000,
        **settings,
    )
    chain = ChainContext(
        world.w3, world.registry, Account.from_key(ANVIL_KEYS[1]), int(world.w3.eth.chain_id)
    )
    app = create_app(app_settings, chain=chain, engine=read_only_engine(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Stack(world, indexer, client, url)
    indexer.engine.dispose()


@pytest.fixture(scope="module")
def stack(
    world: World, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("home")
    with make_stack(world, database_url, home, alerts_allow_private_urls=True) as made:
        yield made


def update_profiles(stack: Stack, account: LocalAccount, count: int) -> None:
    for i in range(count):
        stack.world.registry.update_profile(account, Profile(f"renamed {i}", "eu-west"))
    stack.indexer.sync()


def fail_an_alert(
    stack: Stack, hook: Receiver, provider: LocalAccount, runs: int, **policy: Any
) -> tuple[AlertWorker, dict[str, Any], dict[str, Any]]:
    """One ``provider_changed`` alert to ``hook``, then ``runs`` runs of the worker (with
    ``policy``) 100 s apart: the worker, the subscription and its log."""
    clock, worker = stack.started(**policy)
    sub = stack.subscribe(provider, hook.url, "provider_changed")
    update_profiles(stack, provider, 1)
    for _ in range(runs):
        worker.run_once()
        clock.advance(100)
    return worker, sub, stack.log(provider, sub["id"])


# --------------------------------------------------------------------------- the tests


def test_a_receiver_down_then_up_gets_every_alert_with_one_key_each(
    stack: Stack, receiver: Callable[..., Receiver]
) -> None:
    provider = stack.world.providers["eu-west"]
    clock, worker = stack.started()  # the worker starts at the inventory's head
    hook = receiver(fail_first=True)  # not started: connections are refused
    sub = stack.subscribe(provider, hook.url, "provider_changed")
    update_profiles(stack, provider, 3)
    result, attempted = worker.run_once()
    assert (result.fired, attempted) == (3, 3)
    clock.advance(10)
    assert worker.run_once()[1] == 3  # down again: the second attempts fail too
    hook.start()
    clock.advance(20)
    assert worker.run_once()[1] == 3  # up, but 503 to each first sight: a duplicate follows
    assert worker.run_once()[1] == 0  # nothing due before the backoff
    clock.advance(40)
    assert worker.run_once()[1] == 3
    clock.advance(10**6)
    assert worker.run_once()[1] == 0  # every alert delivered: nothing more to send

    keys = {r.key for r in hook.received}
    assert len(keys) == 3 and len(hook.received) == 6
    for key in keys:
        copies = [r for r in hook.received if r.key == key]
        assert len(copies) == 2 and copies[0].body == copies[1].body
        body = json.loads(copies[0].body)
        assert body["id"] == key and body["event"] == "provider_changed"
        assert body["provider"] == provider.address and body["subscription"] == sub["id"]
        for copy in copies:
            assert copy.headers["X-Depin-Event"] == "provider_changed"
            assert verify(sub["secret"], copy.body, copy.headers["X-Depin-Signature"])
            assert not verify("whsec_other", copy.body, copy.headers["X-Depin-Signature"])
    log = stack.log(provider, sub["id"])
    assert [d["state"] for d in log["deliveries"]] == ["delivered"] * 3
    assert [d["attempts"] for d in log["deliveries"]] == [4] * 3
    outcomes = [e["outcome"] for e in reversed(log["log"])]
    assert outcomes == ["failed"] * 9 + ["delivered"] * 3
    assert any("503" in e["detail"] for e in log["log"])
    assert any("ConnectError" in e["detail"] for e in log["log"])
    assert log["subscription"]["active"] and log["subscription"]["failures"] == 0


def test_an_always_failing_receiver_is_disabled_with_the_reason_logged(
    stack: Stack, receiver: Callable[..., Receiver]
) -> None:
    provider = stack.world.providers["us-east"]
    hook = receiver(status=500).start()
    worker, sub, log = fail_an_alert(stack, hook, provider, 6, disable_after=3, backoff_s=1.0)
    assert len(hook.received) == 3  # disabled after the third failure: no more attempts
    assert log["subscription"]["active"] is False
    reason = log["subscription"]["disabled_reason"]
    assert "3 failed delivery attempts" in reason and "HTTP 500" in reason
    assert log["log"][0]["outcome"] == "disabled" and log["log"][0]["detail"] == reason
    assert [d["state"] for d in log["deliveries"]] == ["pending"]
    # a new alert of a disabled subscription is not made
    update_profiles(stack, provider, 1)
    assert worker.run_once()[0].fired == 0
    # re-enabled by its provider, the pending delivery is tried again
    hook.status = 200
    enabled = stack.client.post(
        f"/v1/console/subscriptions/{sub['id']}/enable", headers=stack.session(provider)
    )
    assert enabled.status_code == 200 and enabled.json()["active"], enabled.text
    worker.run_once()
    assert stack.log(provider, sub["id"])["deliveries"][0]["state"] == "delivered"


def test_an_expiring_agent_alerts_once_not_on_every_block(
    stack: Stack, receiver: Callable[..., Receiver]
) -> None:
    provider = stack.world.providers["ap-south"]
    clock, worker = stack.started(chain_time=True)
    hook = receiver().start()
    sub = stack.subscribe(provider, hook.url, "agent_expiring", expiring_within_s=3600)
    agent = Account.create().address
    expires = int(clock()) + 1800  # within the hour: due at once
    stack.world.registry.authorize_agent(provider, agent, expires)
    for _ in range(4):  # four more blocks, each indexed and evaluated
        stack.world.registry.update_profile(provider, Profile("ap", "ap-south"))
        stack.indexer.sync()
        worker.run_once()
        clock.advance(60)
    alerts = [json.loads(r.body) for r in hook.received]
    mine = [a for a in alerts if a["event"] == "agent_expiring" and a["subject"] == agent]
    assert len(mine) == 1
    assert mine[0]["data"]["expires_at"] == expires
    assert 0 < mine[0]["data"]["expires_in_s"] <= 1800
    # the world's own agent expires in months: no alert for it; none alerts twice
    subjects = [a["subject"] for a in alerts]
    assert stack.world.agents["ap-south"].address not in subjects
    assert len(subjects) == len(set(subjects))
    assert stack.log(provider, sub["id"])["subscription"]["active"]


def test_rejected_attestations_and_offline_gpus_alert_from_what_the_indexer_writes(
    world: World, tmp_path: Path, receiver: Callable[..., Receiver]
) -> None:
    """Subscriptions made before the world is indexed: its GPUs that drop out of the last
    liveness epoch alert gpu_offline when N = 1 (not N = 2), and a rejected attestation
    alerts with its reason."""
    from test_api_console_reads import reject_two

    rejected = reject_two(world)
    url = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    with make_stack(world, url, tmp_path / "home", alerts_allow_private_urls=True) as stack:
        provider = world.providers["eu-west"]
        clock = FakeClock(time.time())
        worker = stack.worker(clock)
        worker.evaluate()
        hook = receiver().start()
        now_sub = stack.subscribe(
            provider, hook.url, "gpu_offline", "attestation_rejected", offline_epochs=1
        )
        later_sub = stack.subscribe(provider, hook.url, "gpu_offline", offline_epochs=2)
        stack.indexer.sync()
        worker.run_once()
        alerts = [json.loads(r.body) for r in hook.received]
        by_sub = {
            s: [a for a in alerts if a["subscription"] == s]
            for s in (now_sub["id"], later_sub["id"])
        }
        mine = {g["gpu_key"] for g in world.gpus if g["provider"] == provider.address}
        dropped = (world.online_prev - world.online_last) & mine
        offline = {a["subject"] for a in by_sub[now_sub["id"]] if a["event"] == "gpu_offline"}
        assert offline == dropped and dropped
        assert by_sub[later_sub["id"]] == []
        reasons = sorted(
            (a["subject"], a["data"]["reason"])
            for a in by_sub[now_sub["id"]]
            if a["event"] == "attestation_rejected"
        )
        assert reasons == sorted(rejected)


def test_webhook_urls_that_are_private_or_plain_http_are_refused(
    world: World, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    with make_stack(world, url, tmp_path / "home") as stack:  # private URLs not allowed
        provider = world.providers["eu-west"]
        headers = stack.session(provider)

        def refused(hook: str) -> dict[str, Any]:
            response = stack.client.post(
                "/v1/console/subscriptions",
                json={"url": hook, "events": ["gpu_offline"]},
                headers=headers,
            )
            assert response.status_code == 422, response.text
            body: dict[str, Any] = response.json()
            return body

        body = refused("http://127.0.0.1:9/hook")
        assert body["code"] == "private_webhook_url" and body["addresses"] == ["127.0.0.1"]
        assert refused("https://169.254.169.254/latest")["code"] == "private_webhook_url"
        assert refused("https://localhost/hook")["code"] == "private_webhook_url"
        assert refused("ftp://example.com/x")["code"] == "invalid_webhook_url"
        assert refused("https://user:pw@example.com/x")["code"] == "invalid_webhook_url"
        assert refused(f"https://{secrets.token_hex(6)}.invalid/x")["code"] == (
            "unresolvable_webhook_url"
        )
    with make_stack(
        world,
        url,
        tmp_path / "home2",
        alerts_allow_http=False,
        alerts_allow_private_urls=True,
        alerts_max_subscriptions=1,
    ) as stack:
        body = stack.client.post(
            "/v1/console/subscriptions",
            json={"url": "http://example.com/hook", "events": ["gpu_offline"]},
            headers=stack.session(world.providers["eu-west"]),
        ).json()
        assert body["code"] == "invalid_webhook_url" and "https" in body["detail"]
        headers = stack.session(world.providers["eu-west"])
        hook = {"url": "https://127.0.0.1:9/hook", "events": ["gpu_offline"]}
        first = stack.client.post("/v1/console/subscriptions", json=hook, headers=headers)
        assert first.status_code == 201, first.text
        again = stack.client.post("/v1/console/subscriptions", json=hook, headers=headers)
        assert_problem(again, 409, "subscription_limit")


def test_one_provider_cannot_read_or_delete_anothers_subscription(
    stack: Stack, receiver: Callable[..., Receiver]
) -> None:
    owner, other = stack.world.providers["eu-west"], stack.world.providers["us-east"]
    sub = stack.subscribe(owner, receiver().url, "gpu_unhealthy")
    for method, path in (
        ("GET", f"/v1/console/subscriptions/{sub['id']}"),
        ("DELETE", f"/v1/console/subscriptions/{sub['id']}"),
        ("POST", f"/v1/console/subscriptions/{sub['id']}/enable"),
    ):
        response = stack.client.request(method, path, headers=stack.session(other))
        assert_problem(response, 403, "not_owner")
    listed = stack.client.get("/v1/console/subscriptions", headers=stack.session(other))
    assert sub["id"] not in [s["id"] for s in listed.json()["items"]]
    assert "secret" not in stack.log(owner, sub["id"])["subscription"]
    deleted = stack.client.delete(
        f"/v1/console/subscriptions/{sub['id']}", headers=stack.session(owner)
    )
    assert deleted.status_code == 204
    missing = stack.client.get(
        f"/v1/console/subscriptions/{sub['id']}", headers=stack.session(owner)
    )
    assert_problem(missing, 404, "not_found")


def test_attestations_expiring_within_t_alert_once_each(
    stack: Stack, receiver: Callable[..., Receiver]
) -> None:
    """Seeded from the inventory when the subscription is made: the world's GPUs expire in a
    day; within two days each alerts, once, and one within an hour does not."""
    provider = stack.world.providers["us-east"]
    clock, worker = stack.started(chain_time=True)
    hook = receiver().start()
    soon = stack.subscribe(provider, hook.url, "attestation_expiring", expiring_within_s=2 * 86400)
    late = stack.subscribe(provider, hook.url, "attestation_expiring", expiring_within_s=3600)
    for _ in range(3):
        worker.run_once()
        clock.advance(60)
    alerts = [json.loads(r.body) for r in hook.received]
    live = {
        g["gpu_key"]
        for g in stack.world.gpus
        if g["provider"] == provider.address and g["gpu_key"] != stack.world.retired
    }
    got = [a["subject"] for a in alerts if a["subscription"] == soon["id"]]
    assert sorted(got) == sorted(live)  # each once; the retired GPU not at all
    assert all(0 < a["data"]["expires_in_s"] <= 86400 + 10 for a in alerts)
    assert [a for a in alerts if a["subscription"] == late["id"]] == []


def test_a_delivery_is_given_up_after_its_attempts_and_the_log_says_so(
    stack: Stack, receiver: Callable[..., Receiver]
) -> None:
    hook = receiver(status=404).start()
    provider = stack.world.providers["eu-west"]
    _, _, log = fail_an_alert(stack, hook, provider, 4, max_attempts=2, backoff_s=1.0)
    assert len(hook.received) == 2
    (delivery,) = log["deliveries"]
    assert (delivery["state"], delivery["attempts"]) == ("failed", 2)
    assert "given up after 2 attempts" in log["log"][0]["detail"]
    assert "HTTP 404" in log["log"][0]["detail"] and log["log"][0]["status"] == 404
    assert log["subscription"]["active"]  # 2 failures: not yet disabled


def test_offline_for_n_epochs_and_unhealthy_gpus_block_by_block(
    w3: Web3, tmp_path: Path, receiver: Callable[..., Receiver]
) -> None:
    """The liveness world's history (:mod:`liveness_world`), indexed one block at a time with
    the worker after each: GPU 2 drops out at -4 (back at -2) and at -1 (for good), GPU 1 at -2
    (back at -1) and turns unhealthy at 0. Offline for 1 epoch alerts all three drop-outs,
    for 2 epochs only the last, for 3 none yet; the unhealthy GPU alerts once."""
    world = build_liveness_world(w3, tmp_path / "world")
    assert world.provider is not None
    url = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    indexer = new_indexer(w3, world.contracts, url, tmp_path)
    engine = read_only_engine(url)
    inventory = sessionmaker(engine)
    state = SharedState(tmp_path / "state.sqlite3")
    hook = receiver().start()
    worker = AlertWorker(state, inventory, Policy(allow_private=True), clock=FakeClock(time.time()))
    worker.evaluate()
    subs = {
        n: subscribe(
            state,
            inventory,
            world.provider.address,
            hook.url,
            ("gpu_offline", "gpu_unhealthy"),
            offline_epochs=n,
            expiring_within_s=86400,
            limit=10,
            at=time.time(),
        )
        for n in (1, 2, 3)
    }
    start = min(int(c["block"]) for c in world.contracts.values())
    for block in range(start, int(w3.eth.block_number) + 1):
        indexer.sync(target=block)
        worker.run_once()
    alerts = [json.loads(r.body) for r in hook.received]
    keys = world.keys

    def of(n: int, event: str) -> list[tuple[str, int]]:
        return sorted(
            (a["subject"], a["data"].get("offline_since_epoch", a["data"].get("epoch")))
            for a in alerts
            if a["subscription"] == subs[n].id and a["event"] == event
        )

    e = world.epoch
    assert of(1, "gpu_offline") == sorted([(keys[2], e(-4)), (keys[1], e(-2)), (keys[2], e(-1))])
    assert of(2, "gpu_offline") == [(keys[2], e(-1))]
    assert of(3, "gpu_offline") == []
    for n in (1, 2, 3):
        assert of(n, "gpu_unhealthy") == [(keys[1], e(0))]
    assert len({a["id"] for a in alerts}) == len(alerts)  # each alert delivered once
    worker.close()
    state.close()
    engine.dispose()
    indexer.engine.dispose()


def test_an_event_on_the_new_branch_of_a_reorg_is_evaluated(
    stack: Stack, receiver: Callable[..., Receiver]
) -> None:
    """The worker has read the events up to the old branch's head; after the reorg the agent
    authorized on the new branch, below that head, still alerts (the reorg row of the changes
    feed moves the event cursor back to the common ancestor)."""
    w3, provider = stack.world.w3, stack.world.providers["eu-west"]
    clock, worker = stack.started(chain_time=True)
    hook = receiver().start()
    stack.subscribe(provider, hook.url, "agent_expiring", expiring_within_s=7 * 86400)
    expires = int(clock()) + 86400
    old, new = Account.create().address, Account.create().address

    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    stack.world.registry.authorize_agent(provider, old, expires)
    update_profiles(stack, provider, 2)
    worker.run_once()
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    stack.world.registry.authorize_agent(provider, new, expires)
    for i in range(4):  # the new branch outgrows the old one
        stack.world.registry.update_profile(provider, Profile(f"new branch {i}", "eu-west"))
    stack.indexer.sync()  # rolls back to the common ancestor and replays
    worker.run_once()
    subjects = [json.loads(r.body)["subject"] for r in hook.received]
    assert subjects.count(old) == 1  # alerted while it was on the chain, once
    assert subjects.count(new) == 1
