"""Indexer throughput and follow latency on anvil.

Run: ``.venv/bin/python bench/indexer.py [--events 100000] [--no-postgres] [--metrics both]``

1. Generates >= 100,000 ProviderRegistry-shaped events with a benchmark-only contract
   (``bench/contracts/EventFlood.sol``: the registry's event signatures, many per transaction),
   sent as raw signed transactions without waiting for each receipt.
2. Backfills them with the indexer into SQLite and into PostgreSQL (inventory tables, changes
   feed and all), beside a naive web3.py baseline run in the same process: ``get_logs`` in
   2,000-block chunks, ``process_log`` per log, ``executemany`` into SQLite.
3. Follow latency on an anvil with 1 s blocks: from the block's appearance at the node to the
   event's row in the database (target: within one block time + 250 ms of sending).

Targets: >= 20,000 events/s into SQLite, >= 10,000/s into PostgreSQL.

``--metrics on`` (the default) backfills as ``depin indexer run --log-format json`` does: the
Prometheus metrics moving and JSON log lines (to /dev/null); ``off`` with every metric a no-op
and no log handler; ``both`` backfills SQLite both ways, alternately, and prints the cost
(target: at most 5 % of throughput).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _solidity import compile_bench_contract  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402
from web3 import Web3  # noqa: E402

from depin import artifacts, deployments, logs, metrics  # noqa: E402
from depin.chain import ANVIL_KEYS, Anvil, connect, deploy  # noqa: E402
from depin.deployments import Deployment  # noqa: E402
from depin.toolchain import configure_environment  # noqa: E402
from indexer.db import make_engine, migrate  # noqa: E402
from indexer.service import Indexer, wait_until  # noqa: E402
from indexer.settings import IndexerSettings  # noqa: E402

PER_TX = 250
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
console = Console()


def _bar(label: str, *counts: str) -> Progress:
    """A progress bar that goes when done: ``label``, the bar, the ``counts`` (formats of the
    task), the time taken."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        *(TextColumn(count) for count in counts),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _compile_flood() -> tuple[list[dict[str, Any]], str]:
    return compile_bench_contract("EventFlood", optimizer_runs=200)


def _deploy_flood(w3: Web3, sender: LocalAccount, home: Path) -> tuple[Any, Deployment]:
    abi, bytecode = _compile_flood()
    receipt = deploy(w3, sender, abi, bytecode)
    deployment = Deployment(
        name="ProviderRegistry",  # indexed with the registry's ABI: same event signatures
        address=str(receipt["contractAddress"]),
        block=int(receipt["blockNumber"]),
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
    )
    deployments.record(home / "deployments", w3.eth.chain_id, deployment)
    return w3.eth.contract(address=deployment.address, abi=abi), deployment


def _events_for(count: int) -> int:
    """Events EventFlood emits for i in [0, count)."""
    return count + len(range(0, count, 10)) + len(range(0, count, 7))


def generate(w3: Web3, contract: Any, sender: LocalAccount, events: int) -> int:
    """Sends flood transactions until >= ``events`` events exist; returns the exact count."""
    txs = -(-events // _events_for(PER_TX))
    nonce = w3.eth.get_transaction_count(sender.address, "pending")
    chain_id = w3.eth.chain_id
    last = b""
    with _bar("generating", "{task.completed}/{task.total} txs") as progress:
        task = progress.add_task("txs", total=txs)
        for n in range(txs):
            tx = {
                "to": contract.address,
                "data": contract.encode_abi("flood", args=[n * PER_TX, PER_TX]),
                "gas": 25_000_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 1,
                "nonce": nonce + n,
                "chainId": chain_id,
                "type": 2,
            }
            last = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
            progress.advance(task)
        receipt = w3.eth.wait_for_transaction_receipt(last, timeout=300, poll_latency=0.05)
    assert receipt["status"] == 1, "a flood transaction ran out of gas"
    return _events_for(txs * PER_TX)


def backfill(node: Anvil, home: Path, url: str, label: str, total: int) -> tuple[float, int]:
    """Seconds and events for a backfill from the deploy block to the head."""
    settings = IndexerSettings(rpc_url=node.rpc_url, home=home, database_url=url, finality=64)
    engine = make_engine(url)
    migrate(engine)
    indexer = Indexer(settings, engine=engine)
    indexer.prepare()
    with _bar(
        label, "{task.completed:,}/{task.total:,} events", "{task.fields[eps]:,.0f} events/s"
    ) as progress:
        task = progress.add_task(label, total=total, eps=0.0)
        started = time.perf_counter()
        done = 0

        def on_range(_block: int, _target: int, written: int) -> None:
            nonlocal done
            done += written
            elapsed = time.perf_counter() - started
            progress.update(task, completed=done, eps=done / max(elapsed, 1e-9))

        written = indexer.sync(progress=on_range)
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, written


def naive_baseline(
    w3: Web3, contract_address: str, start: int, db_path: Path, total: int
) -> tuple[float, int]:
    """web3.py the straightforward way: get_logs in 2,000-block chunks, process_log per log,
    executemany into SQLite."""
    contract = w3.eth.contract(address=contract_address, abi=artifacts.abi("ProviderRegistry"))
    by_topic = {}
    for entry in contract.abi:
        if entry.get("type") == "event":
            event = getattr(contract.events, entry["name"])()
            by_topic[bytes(Web3.keccak(text=event.abi_element_identifier))] = event
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE events (tx_hash TEXT, log_index INT, block_number INT, name TEXT, args TEXT,"
        " PRIMARY KEY (tx_hash, log_index))"
    )
    head = w3.eth.block_number
    written = 0
    with _bar("naive web3.py", "{task.completed:,}/{task.total:,} events") as progress:
        task = progress.add_task("naive", total=total)
        started = time.perf_counter()
        for chunk in range(start, head + 1, 2000):
            logs = w3.eth.get_logs(
                {
                    "address": contract_address,
                    "fromBlock": chunk,
                    "toBlock": min(head, chunk + 1999),
                }
            )
            rows = []
            for log in logs:
                decoded = by_topic[bytes(log["topics"][0])].process_log(log)
                rows.append(
                    (
                        decoded["transactionHash"].hex(),
                        decoded["logIndex"],
                        decoded["blockNumber"],
                        decoded["event"],
                        json.dumps(dict(decoded["args"]), default=lambda v: v.hex()),
                    )
                )
            with db:
                db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)", rows)
            written += len(rows)
            progress.update(task, completed=written)
        elapsed = time.perf_counter() - started
    db.close()
    return elapsed, written


@contextlib.contextmanager
def instrumented(on: bool) -> Iterator[None]:
    """Metrics and JSON log lines (to /dev/null) as `depin indexer run --log-format json` has
    them, or every metric a no-op and the root logger bare."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        if on:
            with open(os.devnull, "w") as sink:
                logs.setup("indexer", "json", stream=sink)
                yield
        else:
            with metrics.off():
                yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def raw_get_logs(node: Anvil, address: str, start: int) -> tuple[float, int]:
    w3 = connect(node.rpc_url)
    head = w3.eth.block_number
    started = time.perf_counter()
    count = 0
    for chunk in range(start, head + 1, 100):
        result = w3.provider.make_request(
            "eth_getLogs",
            [{"address": address, "fromBlock": hex(chunk), "toBlock": hex(min(head, chunk + 99))}],
        )
        count += len(result["result"])
    return time.perf_counter() - started, count


def follow_latency(samples: int, block_time: float, url: str) -> list[tuple[float, float]]:
    """(send -> row, block seen at the node -> row) in seconds, per event."""
    home = Path(tempfile.mkdtemp(prefix="depin-bench-follow-"))
    results: list[tuple[float, float]] = []
    with Anvil(block_time=block_time) as node:
        w3 = connect(node.rpc_url)
        sender: LocalAccount = Account.from_key(ANVIL_KEYS[0])
        contract, _ = _deploy_flood(w3, sender, home)
        settings = IndexerSettings(
            rpc_url=node.rpc_url, home=home, database_url=url, finality=64, poll_interval=0.05
        )
        engine = make_engine(url)
        migrate(engine)
        indexer = Indexer(settings, engine=engine)
        indexer.prepare()
        stop = threading.Event()
        thread = threading.Thread(target=indexer.follow, args=(stop,), daemon=True)
        thread.start()
        try:
            nonce = w3.eth.get_transaction_count(sender.address, "pending")
            for n in range(samples):
                tx = {
                    "to": contract.address,
                    "data": contract.encode_abi("flood", args=[10_000_000 + n, 1]),
                    "gas": 200_000,
                    "maxFeePerGas": 10**11,
                    "maxPriorityFeePerGas": 1,
                    "nonce": nonce + n,
                    "chainId": w3.eth.chain_id,
                    "type": 2,
                }
                time.sleep(secrets.randbelow(1000) / 1000 * block_time)  # random phase
                sent = time.perf_counter()
                tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
                seen = 0.0
                while True:  # when the node has the block
                    receipt = w3.provider.make_request("eth_getTransactionReceipt", [tx_hash.hex()])
                    if receipt.get("result"):
                        seen = time.perf_counter()
                        block = int(receipt["result"]["blockNumber"], 16)
                        break
                    time.sleep(0.005)
                wait_until(
                    lambda b=block: indexer.store.checkpoint().indexed_block >= b,  # type: ignore[union-attr]
                    timeout=10,
                    interval=0.002,
                )
                done = time.perf_counter()
                results.append((done - sent, done - seen))
        finally:
            stop.set()
            thread.join(timeout=10)
            engine.dispose()
    shutil.rmtree(home, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--latency-samples", type=int, default=10)
    parser.add_argument(
        "--metrics",
        choices=("on", "off", "both"),
        default="on",
        help="backfill with metrics and JSON logs, without, or both (SQLite) to compare",
    )
    parser.add_argument("--rounds", type=int, default=3, help="SQLite backfills per variant")
    args = parser.parse_args()
    configure_environment()
    artifacts.load_all()
    work = Path(tempfile.mkdtemp(prefix="depin-bench-indexer-"))
    table = Table(title="indexer backfill (anvil, this machine)")
    for column in ("path", "events", "seconds", "events/s"):
        table.add_column(column, justify="right" if column != "path" else "left")
    pg_url = None
    try:
        with Anvil(extra_args=["--gas-limit", "1000000000"]) as node:
            w3 = connect(node.rpc_url, timeout=300)
            sender: LocalAccount = Account.from_key(ANVIL_KEYS[0])
            contract, deployment = _deploy_flood(w3, sender, work)
            total = generate(w3, contract, sender, args.events)
            console.print(f"{total:,} events in {w3.eth.block_number - deployment.block} blocks")

            seconds, count = raw_get_logs(node, deployment.address, deployment.block)
            table.add_row(
                "raw eth_getLogs (no decode, no DB)",
                f"{count:,}",
                f"{seconds:.2f}",
                f"{count / seconds:,.0f}",
            )

            variants = ["on", "off"] if args.metrics == "both" else [args.metrics]
            rates: dict[str, list[float]] = {v: [] for v in variants}
            for i in range(args.rounds if args.metrics == "both" else 1):
                for variant in variants if i % 2 == 0 else variants[::-1]:
                    url = f"sqlite:///{work / f'inventory-{variant}-{i}.sqlite'}"
                    with instrumented(variant == "on"):
                        seconds, count = backfill(node, work, url, "indexer → SQLite", total)
                    assert count == total, (count, total)
                    rates[variant].append(count / seconds)
                    table.add_row(
                        f"indexer → SQLite (WAL), metrics {variant}",
                        f"{count:,}",
                        f"{seconds:.2f}",
                        f"{count / seconds:,.0f}",
                    )
            if args.metrics == "both":
                on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
                cost = f"metrics + JSON logs cost {(1 - on / off) * 100:+.1f} % of throughput"
                table.add_row(f"median: on {on:,.0f}/s, off {off:,.0f}/s", "", "", cost)

            if not args.no_postgres:
                import psycopg

                name = f"depin_bench_{secrets.token_hex(4)}"
                with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                pg_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
                seconds, count = backfill(node, work, pg_url, "indexer → PostgreSQL", total)
                assert count == total, (count, total)
                table.add_row(
                    "indexer → PostgreSQL",
                    f"{count:,}",
                    f"{seconds:.2f}",
                    f"{count / seconds:,.0f}",
                )

            seconds, count = naive_baseline(
                w3, deployment.address, deployment.block, work / "naive.sqlite", total
            )
            table.add_row(
                "naive web3.py → SQLite (baseline)",
                f"{count:,}",
                f"{seconds:.2f}",
                f"{count / seconds:,.0f}",
            )
        console.print(table)

        block_time = 1.0
        latencies = follow_latency(
            args.latency_samples, block_time, f"sqlite:///{work / 'follow.sqlite'}"
        )
        sent = [a for a, _ in latencies]
        after_block = [b for _, b in latencies]
        console.print(
            f"follow latency ({block_time:.0f} s blocks, {len(latencies)} events, SQLite): "
            f"send→row median {statistics.median(sent) * 1000:.0f} ms, "
            f"max {max(sent) * 1000:.0f} ms "
            f"(target ≤ {(block_time + 0.25) * 1000:.0f} ms); block at node→row median "
            f"{statistics.median(after_block) * 1000:.0f} ms, max {max(after_block) * 1000:.0f} ms"
        )
    finally:
        if pg_url is not None:
            import psycopg

            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_url.rsplit("/", 1)[1]}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
