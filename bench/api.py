"""Explorer API throughput: ``GET /v1/gpus`` with a typical filter, one uvicorn worker, wrk.

Run: ``.venv/bin/python bench/api.py [--sqlite 100000] [--postgres 1000000] [--duration 10]
[--metrics both]``

1. Fills an inventory database (schema from the indexer's migrations) with N GPUs over 1,000
   providers in 8 regions, ``--epochs`` liveness epochs (default 144: a day of 10-minute epochs,
   one in ten missing, each bitmap with ~60 % of the GPUs online, so every page computes its
   GPUs' 24 h and 7 d uptime from real bitmaps) and a checkpoint whose clock is in the last
   epoch (liveness fresh), through the indexer's SQLAlchemy models in bulk
   (multi-row INSERTs of the ``gpus``/``providers``/``liveness`` tables; the indexer has no
   public bulk-load API, and replaying N attestations through its event handlers is what
   bench/indexer.py measures). ANALYZE afterwards, as a deployed database would have.
2. Serves the API with one uvicorn worker and drives
   ``/v1/gpus?vendor=nvidia&min_memory=...&online=true&limit=50`` with wrk: the first page, a
   page reached by keyset cursor, ``sort=-throughput``, the first page while a writer advances
   the indexed block every second (as the indexer does in follow mode on a 1-second chain, so
   every page is recomputed once a second while its clients wait), and a distinct
   ``min_memory`` on every request (no page or total is ever reused: the database path alone;
   its total is counted up to 1,000 GPUs and estimated beyond, ``~`` in the table).
3. Baseline in the same run: a naive FastAPI + SQLAlchemy ORM route for the same query with
   OFFSET pagination, ``count(*)`` on every request and pydantic response validation.

Targets: >= 1,500 req/s and p99 < 50 ms on SQLite at 100k; p99 < 50 ms on PostgreSQL at 1M.

``--metrics on`` (the default) serves the API as deployed: its metrics middleware and JSON log
lines (``depin api serve --log-format json``'s configuration; the access log stays off, as in
every run here); ``off`` without the middleware and with uvicorn's own logging; ``both`` serves
both side by side and measures each route on one, then the other (in alternating order), and
prints the cost (target: at most 5 % of throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from depin import logs  # noqa: E402
from indexer.db import make_engine, migrate  # noqa: E402
from indexer.models import Checkpoint, Gpu, LivenessEpoch, Provider  # noqa: E402

GIB = 1 << 30
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af"]
MODELS = [
    ("nvidia", 0x10DE, "nvidia-h100-sxm5-80gb", 80, 1_800_000),
    ("nvidia", 0x10DE, "nvidia-a100-sxm4-40gb", 40, 600_000),
    ("nvidia", 0x10DE, "nvidia-l4", 24, 240_000),
    ("nvidia", 0x10DE, "nvidia-rtx-4090", 24, 660_000),
    ("amd", 0x1002, "amd-mi300x", 192, 2_500_000),
    ("amd", 0x1002, "amd-mi250", 128, 360_000),
    ("intel", 0x8086, "intel-max-1550", 128, 800_000),
]
EPOCH = 5_000
EPOCH_LENGTH = 600
console = Console(width=None if Console().is_terminal else 132)
QUERY = "/v1/gpus?vendor=nvidia&min_memory=42949672960&online=true&limit=50"
BASELINE_QUERY = "/naive/gpus?vendor=nvidia&min_memory=42949672960&online=true&limit=50"


def _address() -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address("0x" + secrets.token_hex(20)))


def fill(
    engine: Engine,
    count: int,
    progress: Callable[[int], None] | None = None,
    epochs: int = 144,
) -> float:
    """Migrates and bulk-fills; returns seconds taken."""
    start = time.perf_counter()
    migrate(engine)
    rng = random.Random(7)
    now = int(time.time())
    providers = [_address() for _ in range(1_000)]
    with engine.begin() as conn:
        conn.execute(
            insert(Provider.__table__),
            [
                {
                    "address": p,
                    "name": f"provider {i}",
                    "region": REGIONS[i % len(REGIONS)],
                    "endpoint": "https://gpu.example",
                    "metadata_uri": "",
                    "metadata_hash": "0x" + "00" * 32,
                    "status": "active",
                    "registered_block": 1 + i,
                    "registered_at": now,
                    "updated_block": 1 + i,
                    "deregistered_at": None,
                }
                for i, p in enumerate(providers)
            ],
        )
        conn.execute(
            insert(Checkpoint.__table__),
            [
                {
                    "id": 1,
                    "chain_id": 31337,
                    "contracts": {},
                    "start_block": 0,
                    "indexed_block": 2_000_000,
                    "indexed_hash": "0x" + "11" * 32,
                    "head_block": 2_000_000,
                    "finalized_block": 1_999_936,
                    "updated_at": now,
                    "indexed_time": EPOCH * EPOCH_LENGTH + 1,
                    "epoch_length": EPOCH_LENGTH,
                }
            ],
        )
    np_rng = np.random.default_rng(7)
    for offset in range(epochs):
        if offset % 10 == 5:
            continue  # a missing epoch (no quorum)
        online = np.packbits(np_rng.random(count) < 0.6)
        bitmap = "0x" + online.tobytes().hex()
        with engine.begin() as conn:
            conn.execute(
                insert(LivenessEpoch.__table__),
                [
                    {
                        "tx_hash": "0x" + secrets.token_hex(32),
                        "log_index": 0,
                        "block_number": 1_999_000 + offset,
                        "block_time": now,
                        "epoch": EPOCH - offset,
                        "gpu_indexes": [],
                        "online_count": int(np.unpackbits(online).sum()),
                        "bitmap": bitmap,
                        "available": bitmap,
                        "healthy": bitmap,
                        "config_version": 1,
                        "signers": [],
                    }
                ],
            )
    chunk = 20_000
    for base in range(0, count, chunk):
        rows = []
        for i in range(base, min(count, base + chunk)):
            vendor, vendor_id, model, memory, gops = MODELS[rng.randrange(len(MODELS))]
            seen = rng.random()
            rows.append(
                {
                    "gpu_key": "0x" + secrets.token_hex(32),
                    "provider": providers[i % len(providers)],
                    "agent": providers[i % len(providers)],
                    "gpu_index": i,
                    "vendor": vendor,
                    "vendor_id": vendor_id,
                    "model": model,
                    "memory_bytes": memory * GIB,
                    "throughput_gops": gops + rng.randrange(-50_000, 50_000),
                    "fp32_gflops": gops // 30,
                    "fp16_gflops": gops // 2,
                    "memory_bandwidth_gbps": 2_000,
                    "measured_at": now - rng.randrange(86_400),
                    "expires_at": now + 86_400 * 7,
                    "revoked": rng.random() < 0.02,
                    "revoked_by_provider": None,
                    # 60% seen in the last epoch, 15% one epoch before, the rest never.
                    "last_seen_epoch": EPOCH
                    if seen < 0.6
                    else (EPOCH - 1 if seen < 0.75 else None),
                    "online": seen < 0.6,
                    "available": True if seen < 0.75 else None,
                    "healthy": True if seen < 0.75 else None,
                    "config_version": 1,
                    "signers": [],
                    "attestation_tx": "0x" + secrets.token_hex(32),
                    "first_attested_block": 1_000 + i // 100,
                    "attested_block": 1_000 + i // 100,
                    "updated_block": 1_000 + i // 100,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(Gpu.__table__), rows)
        if progress is not None:
            progress(len(rows))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - start


BARE_APP = """
from api.main import create_app as _create_app
from depin.metrics import MetricsMiddleware


def create_app():
    app = _create_app()
    app.user_middleware = [m for m in app.user_middleware if m.cls is not MetricsMiddleware]
    return app
"""

NAIVE_APP = """
import os
from fastapi import FastAPI, Depends
from pydantic import BaseModel
from sqlalchemy import create_engine, select, func
from sqlalchemy.orm import Session, sessionmaker
from indexer.models import Gpu, LivenessEpoch

engine = create_engine(os.environ["NAIVE_URL"])
Factory = sessionmaker(engine)
app = FastAPI()

class Item(BaseModel):
    gpu_key: str
    provider: str
    vendor: str
    model: str
    memory_bytes: int
    throughput_gops: int
    online: bool

class Page(BaseModel):
    items: list[Item]
    total: int

def session():
    with Factory() as s:
        yield s

@app.get("/naive/gpus", response_model=Page)
def gpus(vendor: str, min_memory: int, online: bool, limit: int = 50, page: int = 0,
         s: Session = Depends(session)):
    epoch = s.scalar(select(func.max(LivenessEpoch.epoch)))
    where = [Gpu.vendor == vendor, Gpu.memory_bytes >= min_memory]
    where.append(Gpu.last_seen_epoch >= epoch - 2)
    rows = s.scalars(select(Gpu).where(*where).order_by(Gpu.throughput_gops.desc())
                     .offset(page * limit).limit(limit)).all()
    total = s.scalar(select(func.count()).select_from(Gpu).where(*where))
    return Page(items=[Item(gpu_key=r.gpu_key, provider=r.provider, vendor=r.vendor,
                            model=r.model, memory_bytes=r.memory_bytes,
                            throughput_gops=r.throughput_gops, online=True) for r in rows],
                total=total)
"""


def serve(
    target: str, env: dict[str, str], port: int, log_config: Path | None = None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            *(["--factory"] if target.endswith("create_app") else []),
            *(["--log-config", str(log_config)] if log_config else []),
        ],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=env.get("CWD", str(ROOT)),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=1).read()
            return process
        except Exception:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{target} did not start")


MISS_SCRIPT = """
request = function()
  local extra = math.random(1, 1000000000)
  return wrk.format(nil, wrk.path .. "&min_memory=" .. (42949672960 + extra))
end
"""


def wrk(url: str, duration: int, connections: int, script: Path | None = None) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "--latency",
            *(["-s", str(script)] if script else []),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    return {
        "rps": rps,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
        "timeouts": float(timeouts.group(1)) if timeouts else 0.0,
    }


class Committer:
    """Advances the checkpoint's indexed block every ``period`` seconds, as the indexer's
    commits do in follow mode, so every page's snapshot changes that often."""

    def __init__(self, engine: Engine, period: float = 1.0) -> None:
        self.engine, self.period = engine, period
        self.stop = threading.Event()
        self.commits = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.period):
            with self.engine.begin() as conn:
                conn.execute(
                    text("UPDATE checkpoint SET indexed_block = indexed_block + 1 WHERE id = 1")
                )
            self.commits += 1

    def __enter__(self) -> Committer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


Row = tuple[str, str, dict[str, float], str]


def run(
    label: str,
    url: str,
    count: int,
    duration: int,
    connections: int,
    progress: Progress,
    epochs: int = 144,
    variants: tuple[str, ...] = ("on",),
) -> list[Row]:
    engine = make_engine(url)
    task = progress.add_task(f"{label}: filling", total=count)
    seconds = fill(engine, count, lambda n: progress.advance(task, n), epochs)
    progress.update(task, description=f"{label}: filled in {seconds:.1f}s")
    rows: list[Row] = []
    runs = progress.add_task(f"{label}: wrk", total=2 + 5 * len(variants))
    port = 18_000 + random.randrange(1000)
    work = Path(tempfile.mkdtemp())
    miss_script = work / "miss.lua"
    miss_script.write_text(MISS_SCRIPT)
    (work / "bare_app.py").write_text(BARE_APP)
    json_logs = work / "logging.json"
    json_logs.write_text(json.dumps(logs.uvicorn_config("api", "json")))
    ports = {v: port + 2 + i for i, v in enumerate(variants)}
    order = list(variants)

    first = f"http://127.0.0.1:{ports[variants[0]]}"

    def measure(name: str, target: str, note: str = "", script: Path | None = None) -> None:
        """On each variant of the API (once for any other server)."""
        ours = target.startswith(first)
        for variant in order if ours else order[:1]:
            suffix = f" (metrics {variant})" if ours and len(variants) > 1 else ""
            progress.update(runs, description=f"{label}: {name}{suffix}")
            there = target.replace(first, f"http://127.0.0.1:{ports[variant]}", 1)
            urllib.request.urlopen(there).read()  # the page's first computation is not timed
            rows.append((label, name + suffix, wrk(there, duration, connections, script), note))
            progress.advance(runs)
        order.reverse()  # on, off; then off, on: neither always runs on a warmer machine

    servers = {
        v: serve(
            "api.main:create_app" if v == "on" else "bare_app:create_app",
            {"DEPIN_API_DATABASE_URL": url, "CWD": str(work)},
            ports[v],
            json_logs if v == "on" else None,
        )
        for v in variants
    }
    base = first
    try:
        body = json.loads(urllib.request.urlopen(base + QUERY).read())
        total = f"total={'' if body.get('total_exact', True) else '~'}{body['total']:,}"
        cursor = body["next_cursor"]
        for _ in range(19):
            body = json.loads(urllib.request.urlopen(base + QUERY + f"&cursor={cursor}").read())
            cursor = body["next_cursor"]
        for v in variants:
            wrk(f"http://127.0.0.1:{ports[v]}" + QUERY, 2, connections)  # warm-up
        measure("api first page", base + QUERY, total)
        measure("api page 21 (cursor)", base + QUERY + f"&cursor={cursor}", total)
        measure("api sort=-throughput", base + QUERY + "&sort=-throughput", total)
        with Committer(engine) as committer:
            measure("api first page, 1 commit/s", base + QUERY, "")
        rows[-1] = (*rows[-1][:3], f"{committer.commits} commits")
        miss = base + QUERY.replace("min_memory=42949672960&", "")
        measure("api new filter every request", miss, "page + total", miss_script)
    finally:
        for api in servers.values():
            api.terminate()
            api.wait()
    naive_dir = Path(tempfile.mkdtemp())
    (naive_dir / "naive_app.py").write_text(NAIVE_APP)
    port += 1
    naive = serve(
        "naive_app:app",
        {"NAIVE_URL": url, "CWD": str(naive_dir), "PYTHONPATH": f"{naive_dir}:{ROOT}"},
        port,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wrk(base + BASELINE_QUERY, 2, connections)
        measure("naive first page", base + BASELINE_QUERY)
        measure("naive page 21 (offset)", base + BASELINE_QUERY + "&page=20")
    finally:
        naive.terminate()
        naive.wait()
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite", type=int, default=100_000, help="GPUs in SQLite (0: skip)")
    parser.add_argument("--postgres", type=int, default=1_000_000, help="GPUs in PG (0: skip)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "DEPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument(
        "--epochs", type=int, default=144, help="liveness epochs recorded (uptime's matrix)"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--metrics",
        choices=("on", "off", "both"),
        default="on",
        help="serve the API with its metrics and JSON logs, without, or both to compare",
    )
    args = parser.parse_args()
    variants = ("on", "off") if args.metrics == "both" else (args.metrics,)
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        if args.sqlite:
            url = f"sqlite:///{Path(tmp) / 'inventory.sqlite'}"
            label = f"sqlite {args.sqlite // 1000}k"
            rows += run(
                label,
                url,
                args.sqlite,
                args.duration,
                args.connections,
                progress,
                args.epochs,
                variants,
            )
        if args.postgres:
            admin_url = make_url(args.postgres_url)
            name = f"bench_api_{secrets.token_hex(3)}"
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = admin_url.set(database=name).render_as_string(hide_password=False)
                label = f"pg {args.postgres // 1000}k"
                rows += run(
                    label,
                    url,
                    args.postgres,
                    args.duration,
                    args.connections,
                    progress,
                    args.epochs,
                    variants,
                )
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    table = Table(
        title=f"GET /v1/gpus, one uvicorn worker, wrk -t1 -c{args.connections} -d{args.duration}s"
    )
    for column in ("db", "route", "req/s", "p50 ms", "p99 ms", "non-2xx", "timeouts", ""):
        table.add_column(column, justify="left" if column in ("db", "route", "") else "right")
    for label, name, r, note in rows:
        table.add_row(
            label,
            name,
            f"{r['rps']:,.0f}",
            f"{r['p50']:.2f}",
            f"{r['p99']:.2f}",
            f"{int(r['errors'])}",
            f"{int(r['timeouts'])}",
            note,
        )
    console.print(table)
    if len(variants) > 1:
        for label, name, r, _ in rows:
            if name.endswith(" (metrics on)"):
                base = name.removesuffix(" (metrics on)")
                off = next(
                    x for lb, n, x, _ in rows if lb == label and n == base + " (metrics off)"
                )
                console.print(
                    f"{label} {base}: metrics + JSON logs cost "
                    f"{(1 - r['rps'] / off['rps']) * 100:+.1f} % of req/s "
                    f"({r['rps']:,.0f} on, {off['rps']:,.0f} off)"
                )
    console.print(
        "targets: >= 1,500 req/s and p99 < 50 ms on SQLite at 100k; p99 < 50 ms on PostgreSQL at 1M"
    )


if __name__ == "__main__":
    main()
