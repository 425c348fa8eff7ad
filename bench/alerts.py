"""Webhook alert evaluation throughput: 10,000 subscriptions against a changes feed arriving at
the rate the indexer writes it, beside a naive rescan of every subscription per block.

Run: ``.venv/bin/python bench/alerts.py [--subscriptions 10000] [--blocks 20] [--per-block 2000]``

1. An inventory (the indexer's schema, SQLite) with one provider per subscription, each with
   ``--gpus`` GPUs and one agent, and the API's state (SQLite) with one subscription per
   provider to every alert.
2. Blocks of ``--per-block`` changes and events, shaped as the indexer writes them (GPUs going
   offline, online, unhealthy and attested again; profile updates; agent authorizations and
   rejected attestations), written block by block as the indexer commits ranges; the rate
   ``bench/indexer.py`` targets is 20,000 events/s into SQLite (``--feed-rate``).
3. The incremental evaluator (:class:`api.alerts.Evaluator`) after each block: changes and
   events per second, and whether it keeps up with the feed.
4. The naive baseline in the same run: after each block, every subscription rescans its
   provider's GPUs and agents and compares them with what it saw at the last block (so its
   cost grows with subscriptions, not with changes); run for ``--naive-blocks`` blocks.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import Engine, insert, select, update  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from api.alerts import ALERT_EVENTS, AlertStore, Evaluator, subscribe  # noqa: E402
from api.inventory._tables import A, G  # noqa: E402
from api.shared import SharedState  # noqa: E402
from indexer.db import make_engine, migrate  # noqa: E402
from indexer.models import CHANGES, CHECKPOINT, EVENTS, Agent, Gpu, Provider  # noqa: E402

console = Console()
EPOCH_LENGTH = 3600
FEED_RATE = 20_000  # events/s: bench/indexer.py's SQLite target


def _bar(label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _address(i: int) -> str:
    return "0x" + f"{i:040x}"


def _key(i: int) -> str:
    return "0x" + f"{i:064x}"


def _timed_blocks(
    label: str, world: World, blocks: int, per_block: int, step: Callable[[], int]
) -> tuple[float, int, int]:
    """``blocks`` new blocks of ``per_block`` events each, ``step`` timed after each one:
    (the seconds in ``step``, the events written, the sum of what ``step`` counted)."""
    seconds, written, counted = 0.0, 0, 0
    with _bar(label) as bar:
        task = bar.add_task("blocks", total=blocks)
        for _ in range(blocks):
            written += world.next_block(per_block)
            started = time.perf_counter()
            counted += step()
            seconds += time.perf_counter() - started
            bar.advance(task)
    return seconds, written, counted


class World:
    """The synthetic inventory and the feed written into it, block by block."""

    def __init__(self, engine: Engine, providers: int, gpus: int, seed: int) -> None:
        self.engine = engine
        self.providers = providers
        self.gpus_per = gpus
        self.rng = random.Random(seed)
        self.block = 1
        self.epoch = 1000
        self.now = int(time.time())

    def populate(self) -> None:
        provider_rows, agent_rows, gpu_rows = [], [], []
        for p in range(self.providers):
            address = _address(p + 1)
            provider_rows.append(
                {
                    "address": address,
                    "name": f"provider {p}",
                    "region": "eu-west",
                    "endpoint": "",
                    "metadata_uri": "",
                    "metadata_hash": "0x" + "00" * 32,
                    "status": "active",
                    "registered_block": 1,
                    "registered_at": self.now,
                    "updated_block": 1,
                    "deregistered_at": None,
                }
            )
            agent_rows.append(
                {
                    "provider": address,
                    "agent": _address(10**9 + p),
                    "expires_at": self.now + 10**7,
                    "revoked": False,
                    "authorized_block": 1,
                    "updated_block": 1,
                }
            )
            for g in range(self.gpus_per):
                index = p * self.gpus_per + g
                gpu_rows.append(
                    {
                        "gpu_key": _key(index + 1),
                        "provider": address,
                        "agent": _address(10**9 + p),
                        "gpu_index": index,
                        "vendor": "nvidia",
                        "vendor_id": 0x10DE,
                        "model": "nvidia-h100-sxm5-80gb",
                        "memory_bytes": 80 << 30,
                        "throughput_gops": 1_800_000,
                        "fp32_gflops": 60_000,
                        "fp16_gflops": 900_000,
                        "memory_bandwidth_gbps": 3000,
                        "measured_at": self.now,
                        "expires_at": self.now + 10**7,
                        "revoked": False,
                        "revoked_by_provider": None,
                        "last_seen_epoch": self.epoch,
                        "online": True,
                        "available": True,
                        "healthy": True,
                        "config_version": 1,
                        "signers": [],
                        "attestation_tx": "0x" + "11" * 32,
                        "first_attested_block": 1,
                        "attested_block": 1,
                        "updated_block": 1,
                    }
                )
        with self.engine.begin() as conn:
            conn.execute(insert(Provider.__table__), provider_rows)
            conn.execute(insert(Agent.__table__), agent_rows)
            for start in range(0, len(gpu_rows), 5000):
                conn.execute(insert(Gpu.__table__), gpu_rows[start : start + 5000])
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
                    updated_at=self.now,
                    indexed_time=self.now,
                    epoch_length=EPOCH_LENGTH,
                )
            )

    def next_block(self, count: int) -> int:
        """Writes one block of ``count`` changes and events as the indexer would."""
        self.block += 1
        self.epoch += 1
        changes: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        offline: list[str] = []
        online: list[str] = []
        for log_index in range(count):
            roll = self.rng.random()
            p = self.rng.randrange(self.providers)
            gpu = _key(p * self.gpus_per + self.rng.randrange(self.gpus_per) + 1)
            base = {"block_number": self.block, "log_index": log_index}
            if roll < 0.35:
                offline.append(gpu)
                changes.append(
                    {**base, "kind": "gpu_offline", "subject": gpu, "data": {"epoch": self.epoch}}
                )
            elif roll < 0.6:
                online.append(gpu)
                changes.append(
                    {**base, "kind": "gpu_online", "subject": gpu, "data": {"epoch": self.epoch}}
                )
            elif roll < 0.7:
                changes.append(
                    {**base, "kind": "gpu_unhealthy", "subject": gpu, "data": {"epoch": self.epoch}}
                )
            elif roll < 0.85:
                changes.append(
                    {
                        **base,
                        "kind": "gpu_attested",
                        "subject": gpu,
                        "data": {
                            "provider": _address(p + 1),
                            "expires_at": self.now + 10**7 + self.block,
                        },
                    }
                )
            elif roll < 0.9:
                changes.append(
                    {
                        **base,
                        "kind": "provider_updated",
                        "subject": _address(p + 1),
                        "data": {"name": "renamed", "region": "eu-west"},
                    }
                )
            elif roll < 0.95:
                events.append(
                    self._event(
                        base,
                        "AgentAuthorized",
                        {
                            "provider": _address(p + 1),
                            "agent": _address(10**9 + p),
                            "expiresAt": self.now + 10**7 + self.block,
                        },
                    )
                )
            else:
                events.append(
                    self._event(base, "AttestationRejected", {"gpuKey": gpu, "reason": 3})
                )
        with self.engine.begin() as conn:
            if changes:
                conn.execute(insert(CHANGES), changes)
            if events:
                conn.execute(insert(EVENTS), events)
            if offline:
                conn.execute(
                    update(Gpu.__table__).where(G.gpu_key.in_(offline)).values(online=False)
                )
            if online:
                conn.execute(
                    update(Gpu.__table__)
                    .where(G.gpu_key.in_(online))
                    .values(online=True, last_seen_epoch=self.epoch)
                )
            conn.execute(
                update(CHECKPOINT)
                .where(CHECKPOINT.c.id == 1)
                .values(indexed_block=self.block, indexed_time=self.now + self.block)
            )
        return count

    def _event(self, base: dict[str, Any], name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {
            **base,
            "tx_hash": "0x" + secrets.token_hex(32),
            "tx_index": 0,
            "block_hash": "0x" + secrets.token_hex(32),
            "block_time": self.now,
            "address": _address(0xABC),
            "contract": "AttestationOracle"
            if name == "AttestationRejected"
            else "ProviderRegistry",
            "name": name,
            "args": args,
        }


def naive_rescan(factory: sessionmaker[Session], subs: list[Any], seen: dict[str, Any]) -> int:
    """Every subscription reads its provider's GPUs and agents and diffs them with the last
    block's: the alerts a per-block rescan finds."""
    found = 0
    with factory() as session:
        for sub in subs:
            gpus = {
                str(r.gpu_key): (bool(r.online), r.expires_at)
                for r in session.execute(
                    select(G.gpu_key, G.online, G.expires_at).where(G.provider == sub.provider)
                ).all()
            }
            agents = {
                str(r.agent): int(r.expires_at)
                for r in session.execute(
                    select(A.agent, A.expires_at).where(A.provider == sub.provider)
                ).all()
            }
            before = seen.get(sub.id)
            if before is not None:
                found += sum(1 for k, v in gpus.items() if before[0].get(k) != v)
                found += sum(1 for k, v in agents.items() if before[1].get(k) != v)
            seen[sub.id] = (gpus, agents)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--gpus", type=int, default=4, help="GPUs per provider")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--per-block", type=int, default=2_000)
    parser.add_argument("--naive-blocks", type=int, default=3)
    parser.add_argument("--feed-rate", type=int, default=FEED_RATE)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="depin-bench-alerts-"))
    atexit.register(shutil.rmtree, folder, True)  # its databases: about 100 MB a run
    engine = make_engine(f"sqlite:///{folder / 'inventory.sqlite'}")
    migrate(engine)
    factory = sessionmaker(engine)
    world = World(engine, args.subscriptions, args.gpus, seed=7)
    state = SharedState(folder / "api-state.sqlite3")
    store = AlertStore(state)
    console.print(
        f"[bold]alerts[/]: {args.subscriptions:,} subscriptions (one per provider, every "
        f"alert), {args.subscriptions * args.gpus:,} GPUs, blocks of {args.per_block:,} "
        f"changes and events; feed at {args.feed_rate:,} events/s"
    )
    world.populate()
    with _bar("subscribing") as bar:
        task = bar.add_task("subscribe", total=args.subscriptions)
        for p in range(args.subscriptions):
            subscribe(
                state,
                factory,
                _address(p + 1),
                "https://hooks.example/x",
                ALERT_EVENTS,
                offline_epochs=2,
                expiring_within_s=86_400,
                limit=10**9,
                at=time.time(),
            )
            bar.advance(task)
    evaluator = Evaluator(state, factory, batch=max(args.per_block, 1000))
    evaluator.start_at_head()
    # As in the API process, which freezes what its start-up made (api.main): the set-up's
    # objects are not walked by every full collection of the measured steps.
    gc.freeze()

    incremental_s, written, fired = _timed_blocks(
        "incremental",
        world,
        args.blocks,
        args.per_block,
        lambda: evaluator.run_until_caught_up().fired,
    )
    incremental_rate = written / incremental_s if incremental_s else 0.0

    subs = [s for p in range(args.subscriptions) for s in store.of(_address(p + 1))]
    seen: dict[str, Any] = {}
    naive_rescan(factory, subs, seen)  # the first look, before the measured blocks
    naive_s, naive_written, naive_found = _timed_blocks(
        "naive rescan",
        world,
        args.naive_blocks,
        args.per_block,
        lambda: naive_rescan(factory, subs, seen),
    )
    naive_rate = naive_written / naive_s if naive_s else 0.0

    table = Table(title=f"alert evaluation, {args.subscriptions:,} subscriptions")
    for column in ("", "events/s", "ms per block", "keeps up with the feed", "alerts"):
        table.add_column(column, justify="right")
    incremental_ms = incremental_s / max(args.blocks, 1) * 1000
    naive_ms = naive_s / max(args.naive_blocks, 1) * 1000
    table.add_row(
        "incremental (changes feed + due watches)",
        f"{incremental_rate:,.0f}",
        f"{incremental_ms:,.1f}",
        "yes" if incremental_rate >= args.feed_rate else "no",
        f"{fired:,} made",
    )
    table.add_row(
        "naive rescan per block",
        f"{naive_rate:,.0f}",
        f"{naive_ms:,.1f}",
        "yes" if naive_rate >= args.feed_rate else "no",
        f"{naive_found:,} differences",
    )
    console.print(table)
    figures = {
        "subscriptions": args.subscriptions,
        "per_block": args.per_block,
        "feed_rate": args.feed_rate,
        "incremental_events_per_s": incremental_rate,
        "incremental_ms_per_block": incremental_ms,
        "alerts_made": fired,
        "naive_events_per_s": naive_rate,
        "naive_ms_per_block": naive_ms,
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    state.close()
    engine.dispose()


if __name__ == "__main__":
    main()
