"""Alert watches: one row per subscription, subject and kind, re-armed in place by later changes,
and the watches of a state made at revision 0006 carried over by the upgrade, on SQLite and
PostgreSQL. The inventory is the indexer's schema written directly (a provider, its GPUs, the
changes feed and liveness epochs), so each step of the evaluator is driven by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import postgres_database
from clock_helpers import FakeClock
from sqlalchemy import Engine, create_engine, insert, text, update
from sqlalchemy.orm import Session, sessionmaker

from api.alerts import Evaluator, idempotency_key, subscribe
from api.migrate import current_revision, heads, migrate_sqlite_file, migrate_state
from api.shared import State, open_shared_state
from indexer.db import make_engine, migrate
from indexer.models import CHANGES, CHECKPOINT, Gpu, LivenessEpoch, Provider

DAY = 86_400
T0 = 1_900_000_000
PROVIDER = "0x" + "aa" * 20
GPU, OTHER = "0x" + "01" * 32, "0x" + "02" * 32
HOOK = "https://hooks.example/x"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh inventory database (on PostgreSQL the API's state shares it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    else:
        yield from postgres_database()


class Inventory:
    """The indexer's tables with one provider and its GPUs, written as the indexer would."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        migrate(self.engine)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine)
        self.block = 1
        with self.engine.begin() as conn:
            conn.execute(insert(Provider.__table__).values(**_provider()))
            conn.execute(
                insert(CHECKPOINT).values(
                    id=1,
                    chain_id=31337,
                    contracts={},
                    start_block=0,
                    indexed_block=self.block,
                    indexed_hash=None,
                    head_block=self.block,
                    finalized_block=self.block,
                    updated_at=T0,
                    indexed_time=T0,
                    epoch_length=3600,
                )
            )

    def gpu(self, key: str, index: int, *, expires_at: int, online: bool, seen: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(Gpu.__table__).values(
                    **_gpu(key, index, expires_at=expires_at, online=online, seen=seen)
                )
            )

    def block_of(self, *changes: tuple[str, str, dict[str, Any]], **gpu: Any) -> None:
        """One block: ``changes`` (kind, subject, data) in the feed, and ``GPU``'s row updated
        with ``gpu``'s columns."""
        self.block += 1
        with self.engine.begin() as conn:
            conn.execute(
                insert(CHANGES),
                [
                    {
                        "block_number": self.block,
                        "log_index": i,
                        "kind": kind,
                        "subject": subject,
                        "data": data,
                    }
                    for i, (kind, subject, data) in enumerate(changes)
                ],
            )
            if gpu:
                conn.execute(update(Gpu.__table__).where(Gpu.gpu_key == GPU).values(**gpu))
            conn.execute(
                update(CHECKPOINT).where(CHECKPOINT.c.id == 1).values(indexed_block=self.block)
            )

    def epoch(self, epoch: int) -> None:
        """A liveness record of ``epoch`` (the evaluator's latest epoch)."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(LivenessEpoch.__table__).values(
                    tx_hash="0x" + f"{epoch:064x}",
                    log_index=0,
                    block_number=self.block,
                    block_time=T0,
                    epoch=epoch,
                    gpu_indexes=[],
                    online_count=0,
                    bitmap="0x",
                    config_version=1,
                    signers=[],
                )
            )

    def close(self) -> None:
        self.engine.dispose()


def _provider() -> dict[str, Any]:
    return {
        "address": PROVIDER,
        "name": "watched",
        "region": "eu-west",
        "endpoint": "",
        "metadata_uri": "",
        "metadata_hash": "0x" + "00" * 32,
        "status": "active",
        "registered_block": 1,
        "registered_at": T0,
        "updated_block": 1,
        "deregistered_at": None,
    }


def _gpu(key: str, index: int, *, expires_at: int, online: bool, seen: int) -> dict[str, Any]:
    return {
        "gpu_key": key,
        "provider": PROVIDER,
        "agent": "0x" + "bb" * 20,
        "gpu_index": index,
        "vendor": "nvidia",
        "vendor_id": 0x10DE,
        "model": "nvidia-h100-sxm5-80gb",
        "memory_bytes": 80 << 30,
        "throughput_gops": 1_800_000,
        "fp32_gflops": 60_000,
        "fp16_gflops": 900_000,
        "memory_bandwidth_gbps": 3000,
        "measured_at": T0,
        "expires_at": expires_at,
        "revoked": False,
        "revoked_by_provider": None,
        "last_seen_epoch": seen,
        "online": online,
        "available": online,
        "healthy": online,
        "config_version": 1,
        "signers": [],
        "attestation_tx": "0x" + "11" * 32,
        "first_attested_block": 1,
        "attested_block": 1,
        "updated_block": 1,
    }


def watches(state: State) -> list[tuple[Any, ...]]:
    with state.transaction() as tx:
        rows = tx.execute(
            "SELECT subscription_id, kind, subject, value, due_epoch, due_at FROM alert_watches "
            "ORDER BY kind, subject"
        ).fetchall()
    return [tuple(r) for r in rows]


def alerts(state: State) -> list[tuple[str, str, dict[str, Any]]]:
    """(alert key, idempotency key, body data) of every delivery made, oldest first."""
    with state.transaction() as tx:
        rows = tx.execute(
            "SELECT alert_key, idempotency_key, body FROM alert_deliveries ORDER BY id"
        ).fetchall()
    return [(str(r[0]), str(r[1]), json.loads(r[2])["data"]) for r in rows]


def test_a_gpu_attested_twice_keeps_one_watch_and_alerts_once_at_its_latest_expiry(
    url: str, tmp_path: Path
) -> None:
    inventory = Inventory(url)
    inventory.gpu(GPU, 0, expires_at=T0 + 10 * DAY, online=True, seen=100)
    inventory.epoch(100)
    state = open_shared_state(url, tmp_path / "state.sqlite3")
    clock = FakeClock(T0)
    evaluator = Evaluator(state, inventory.sessions, clock=clock)
    evaluator.start_at_head()
    sub = subscribe(
        state,
        inventory.sessions,
        PROVIDER,
        HOOK,
        ("attestation_expiring", "gpu_offline"),
        offline_epochs=2,
        expiring_within_s=DAY,
        limit=10,
        at=T0,
    )
    seeded = [(sub.id, "attestation_expiring", GPU, T0 + 10 * DAY, None, T0 + 9.0 * DAY)]
    assert watches(state) == seeded

    first, second = T0 + 2 * DAY, T0 + 5 * DAY
    inventory.block_of(
        ("gpu_attested", GPU, {"provider": PROVIDER, "expires_at": first}),
        ("gpu_attested", GPU, {"provider": PROVIDER, "expires_at": second}),
        expires_at=second,
    )
    evaluator.run_until_caught_up()
    # one row, holding the latest expiry; due at the earliest alert time it was armed for
    # (its index untouched by the later attestation), when it is re-armed for what it holds
    assert watches(state) == [
        (sub.id, "attestation_expiring", GPU, second, None, float(first - DAY))
    ]
    clock.now = first - DAY + 60  # the first attestation's alert time: superseded
    evaluator.run_until_caught_up()
    assert alerts(state) == []
    armed = (sub.id, "attestation_expiring", GPU, second, None, float(second - DAY))
    assert watches(state) == [armed]
    clock.now = second - DAY - 60
    evaluator.run_until_caught_up()
    assert alerts(state) == [] and watches(state) == [armed]
    clock.now = second - DAY + 60
    evaluator.run_until_caught_up()
    evaluator.run_until_caught_up()
    key = f"attestation_expiring:{GPU}:{second}"
    made = alerts(state)
    assert [(k, i) for k, i, _ in made] == [(key, idempotency_key(sub.id, key))]
    assert made[0][2]["expires_at"] == second
    assert watches(state) == [(sub.id, "attestation_expiring", GPU, second, None, None)]

    # offline at 101, back at 102, offline again at 103: one row, re-armed from 103
    inventory.block_of(("gpu_offline", GPU, {"epoch": 101}), online=False)
    inventory.epoch(101)
    evaluator.run_until_caught_up()
    assert (sub.id, "gpu_offline", GPU, 101, 102, None) in watches(state)
    inventory.block_of(
        ("gpu_online", GPU, {"epoch": 102}),
        ("gpu_offline", GPU, {"epoch": 103}),
        online=False,
        last_seen_epoch=102,
    )
    inventory.epoch(103)  # the first spell's due epoch is past: it must not fire
    evaluator.run_until_caught_up()
    offline = [w for w in watches(state) if w[1] == "gpu_offline"]
    assert offline == [(sub.id, "gpu_offline", GPU, 103, 104, None)]
    assert [k for k, _, _ in alerts(state)] == [key]
    inventory.epoch(104)
    evaluator.run_until_caught_up()
    evaluator.run_until_caught_up()
    made = alerts(state)
    assert [k for k, _, _ in made] == [key, f"gpu_offline:{GPU}:103"]
    assert made[1][2]["offline_since_epoch"] == 103
    offline = [w for w in watches(state) if w[1] == "gpu_offline"]
    assert offline == [(sub.id, "gpu_offline", GPU, 103, None, None)]
    state.close()
    inventory.close()


def _old_watch(sub_id: str, kind: str, subject: str, value: int, due: float) -> dict[str, Any]:
    """A watch row as revision 0005's evaluator wrote it."""
    offline = kind == "gpu_offline"
    return {
        "sub": sub_id,
        "key": f"{kind}:{subject}:{value}",
        "kind": kind,
        "subject": subject,
        "due_epoch": int(due) if offline else None,
        "due_at": None if offline else due,
        "data": json.dumps(
            {"since_epoch" if offline else "expires_at": value, "provider": PROVIDER}
        ),
    }


def test_watches_made_before_the_upgrade_fire_after_it_with_the_same_alert_keys(
    url: str, tmp_path: Path
) -> None:
    expires = T0 + 3 * DAY
    inventory = Inventory(url)
    inventory.gpu(GPU, 0, expires_at=expires, online=True, seen=102)
    inventory.gpu(OTHER, 1, expires_at=T0 + 30 * DAY, online=False, seen=100)
    inventory.epoch(102)
    path = tmp_path / "state.sqlite3"
    state_url = url if url.startswith("postgresql") else f"sqlite:///{path}"
    old = create_engine(state_url)
    if url.startswith("postgresql"):
        migrate_state(old, "0006")
    else:
        migrate_sqlite_file(path, "0006")
    assert current_revision(old) == ("0006",)
    sub_id = "sub_0123456789abcdef"
    rows = [
        _old_watch(sub_id, "attestation_expiring", GPU, expires, expires - DAY),
        _old_watch(sub_id, "gpu_offline", OTHER, 101, 102),
        # a second offline watch of the same GPU (0005 kept one per alert): the earlier stays
        _old_watch(sub_id, "gpu_offline", OTHER, 103, 104),
    ]
    with old.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alert_subscriptions (id, provider, url, events, offline_epochs, "
                "expiring_within_s, secret, created_at, since_change, since_block, failures) "
                "VALUES (:id, :provider, :url, 'gpu_offline attestation_expiring', 2, :within, "
                "'whsec_x', :at, 0, 0, 0)"
            ),
            {"id": sub_id, "provider": PROVIDER, "url": HOOK, "within": DAY, "at": T0},
        )
        conn.execute(
            text(
                "INSERT INTO alert_watches (subscription_id, alert_key, kind, subject, "
                "due_epoch, due_at, data) VALUES (:sub, :key, :kind, :subject, :due_epoch, "
                ":due_at, :data)"
            ),
            rows,
        )
    old.dispose()

    state = open_shared_state(url, path)  # migrates to the head
    head = create_engine(state_url)
    assert current_revision(head) == heads() != ("0006",)
    head.dispose()
    assert watches(state) == [
        (sub_id, "attestation_expiring", GPU, expires, None, float(expires - DAY)),
        (sub_id, "gpu_offline", OTHER, 101, 102, None),
    ]

    evaluator = Evaluator(state, inventory.sessions, clock=FakeClock(expires - DAY + 60))
    evaluator.start_at_head()
    evaluator.run_until_caught_up()
    evaluator.run_until_caught_up()
    keys = [f"attestation_expiring:{GPU}:{expires}", f"gpu_offline:{OTHER}:101"]
    made = alerts(state)
    assert sorted((k, i) for k, i, _ in made) == sorted(
        (k, idempotency_key(sub_id, k)) for k in keys
    )
    data = {k: d for k, _, d in made}
    assert data[keys[0]]["expires_at"] == expires
    assert data[keys[1]]["offline_since_epoch"] == 101
    assert all(w[4] is None and w[5] is None for w in watches(state))  # none due any more

    # the carried-over row is the one the next attestation re-arms, in place
    later = T0 + 40 * DAY
    inventory.block_of(
        ("gpu_attested", GPU, {"provider": PROVIDER, "expires_at": later}), expires_at=later
    )
    evaluator.run_until_caught_up()
    expiring = [w for w in watches(state) if w[1] == "attestation_expiring"]
    assert expiring == [(sub_id, "attestation_expiring", GPU, later, None, float(later - DAY))]
    state.close()
    inventory.close()
