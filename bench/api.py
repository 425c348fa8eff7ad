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
   GPUs come in hosts of 1-8 of one model under one provider; 95 % of the hosts have a
   capability document (drivers 470-560 with CUDA 11.4-12.10, ROCm 5.4-6.2, compute
   capability 7.0-9.0, NVLink/xGMI on most multi-GPU hosts, MIG on a quarter of the H100 and
   A100 hosts, PCIe 3-5, CPU cores, RAM, free disk, a container runtime on 90 %), built and
   hashed by ``depin.capabilities`` and stored with its per-GPU facets
   (``depin.capabilities.gpu_facets``) in the API state's own tables, each GPU's
   ``capabilities`` naming its host's document. The API state is this run's own (a SQLite file
   in the run's folder, as ``DEPIN_API_STATE_PATH`` and ``DEPIN_HOME`` of the servers; on
   PostgreSQL the bench database), migrated by the API's own code.
2. Serves the API with one uvicorn worker, waits until it says (``/metrics``) that its
   in-memory GPU index is built (``api/inventory/columns.py``; it builds in the background at
   start-up, and the time it took is printed), and drives
   ``/v1/gpus?vendor=nvidia&min_memory=...&online=true&limit=50`` with wrk: the first page, a
   page reached by keyset cursor, ``sort=-throughput``, the first page while a writer advances
   the indexed block every second (as the indexer does in follow mode on a 1-second chain, so
   every page is recomputed once a second while its clients wait), and a distinct
   ``min_memory`` on every request (no page or total is ever reused: the index and the
   database, the total exact), and a
   random filter every request: 1-4 parameters drawn among vendor, min_memory, region,
   online, available, healthy, min_throughput, sort and the twelve capability filters, with
   random values (:data:`RANDOM_SCRIPT`).
3. Baseline in the same run: a naive FastAPI + SQLAlchemy ORM route for the same query (and
   the same random filters, the facets joined) with OFFSET pagination, ``count(*)`` on every
   request and pydantic response validation.

Targets: >= 1,500 req/s and p99 < 50 ms on SQLite at 100k; p99 < 50 ms on PostgreSQL at 1M;
the random filter p99 < 100 ms on both.

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
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.capabilities import DOCUMENTS, FACETS, SCHEMA_NAME  # noqa: E402
from api.shared import open_shared_state  # noqa: E402
from depin import logs  # noqa: E402
from depin.capabilities import (  # noqa: E402
    CapabilityDocument,
    GpuCapabilities,
    HostCapabilities,
    NvlinkCapabilities,
    PcieCapabilities,
    canonical_bytes,
    document_hash,
    gpu_facets,
)
from depin.crypto import to_hex  # noqa: E402
from indexer.db import make_engine, migrate  # noqa: E402
from indexer.models import Checkpoint, Gpu, LivenessEpoch, Provider  # noqa: E402

GIB = 1 << 30
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af"]
MODELS = [
    ("nvidia", 0x10DE, "nvidia-h100-sxm5-80gb", 80, 1_800_000),
    ("nvidia", 0x10DE, "nvidia-a100-sxm4-40gb", 40, 600_000),
    ("nvidia", 0x10DE, "nvidia-l4", 24, 240_000),
    ("nvidia", 0x10DE, "nvidia-rtx-4090", 24, 660_000),
    ("nvidia", 0x10DE, "nvidia-v100-sxm2-32gb", 32, 125_000),
    ("amd", 0x1002, "amd-mi300x", 192, 2_500_000),
    ("amd", 0x1002, "amd-mi250", 128, 360_000),
    ("intel", 0x8086, "intel-max-1550", 128, 800_000),
]
EPOCH = 5_000
EPOCH_LENGTH = 600
console = Console(width=None if Console().is_terminal else 132)
QUERY = "/v1/gpus?vendor=nvidia&min_memory=42949672960&online=true&limit=50"
BASELINE_QUERY = "/naive/gpus?vendor=nvidia&min_memory=42949672960&online=true&limit=50"
#: the page the random filters are added to
PLAIN = "/v1/gpus?limit=50"
NAIVE_PLAIN = "/naive/gpus?limit=50"


def _address() -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address("0x" + secrets.token_hex(20)))


#: GPUs per host, drawn uniformly from this list
HOST_SIZES = (1, 1, 2, 4, 8, 8, 8)
#: the share of hosts whose capability document the API holds
DOCUMENTED_HOSTS = 0.95
#: NVIDIA driver branches and the newest CUDA each brings
NVIDIA_DRIVERS = (
    (470, ("11.4",)),
    (510, ("11.6",)),
    (525, ("12.0",)),
    (535, ("12.2",)),
    (545, ("12.3",)),
    (550, ("12.4",)),
    (555, ("12.5",)),
    (560, ("12.6", "12.8", "12.9", "12.10")),
)
#: model -> (compute capability, widest PCIe generation, peer link on a multi-GPU host, MIG)
PROFILES: dict[str, tuple[str | None, int, str | None, bool]] = {
    "nvidia-h100-sxm5-80gb": ("9.0", 5, "nvlink", True),
    "nvidia-a100-sxm4-40gb": ("8.0", 4, "nvlink", True),
    "nvidia-l4": ("8.9", 4, None, False),
    "nvidia-rtx-4090": ("8.9", 4, None, False),
    "nvidia-v100-sxm2-32gb": ("7.0", 3, "nvlink", False),
    "amd-mi300x": (None, 5, "xgmi", False),
    "amd-mi250": (None, 4, "xgmi", False),
    "intel-max-1550": (None, 5, None, False),
}


def gpu_row(
    rng: random.Random, i: int, model: tuple[str, int, str, int, int], provider: str, now: int
) -> dict[str, Any]:
    """The ``gpus`` row of GPU ``i`` (its ``capabilities`` set by the caller)."""
    vendor, vendor_id, name, memory, gops = model
    seen = rng.random()
    return {
        "gpu_key": "0x" + secrets.token_hex(32),
        "provider": provider,
        "agent": provider,
        "gpu_index": i,
        "vendor": vendor,
        "vendor_id": vendor_id,
        "model": name,
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
        "last_seen_epoch": EPOCH if seen < 0.6 else (EPOCH - 1 if seen < 0.75 else None),
        "online": seen < 0.6,
        "available": True if seen < 0.75 else None,
        "healthy": True if seen < 0.75 else None,
        "config_version": 1,
        "signers": [],
        "attestation_tx": "0x" + secrets.token_hex(32),
        "first_attested_block": 1_000 + i // 100,
        "attested_block": 1_000 + i // 100,
        "updated_block": 1_000 + i // 100,
        "capabilities": None,
    }


def host_document(
    rng: random.Random, model: tuple[str, int, str, int, int], gpu_keys: list[str]
) -> CapabilityDocument:
    """A host's capability document: driver 470-560 with CUDA 11.4-12.10 (NVIDIA), ROCm
    5.4-6.2 (AMD), compute capability by model, NVLink or xGMI between the GPUs of most
    multi-GPU hosts, MIG on a quarter of the H100 and A100 hosts, PCIe 3-5, CPU cores, RAM,
    free disk and a container runtime on most."""
    vendor, _, name, memory, _ = model
    capability, pcie, link, can_mig = PROFILES[name]
    if rng.random() < 0.15 and pcie > 3:
        pcie -= 1  # an older slot than the card
    driver = cuda = rocm = None
    if vendor == "nvidia":
        branch, cudas = NVIDIA_DRIVERS[rng.randrange(len(NVIDIA_DRIVERS))]
        driver = f"{branch}.{rng.randrange(10, 200)}.{rng.randrange(1, 20):02d}"
        cuda = rng.choice(cudas)
    elif vendor == "amd":
        rocm = rng.choice(("5.4.3", "5.7.1", "6.0.2", "6.1.3", "6.2.0"))
        driver = rng.choice(("6.3.6", "6.7.0", "6.8.5"))
    else:
        driver = rng.choice(("1.3.27642", "1.3.29735"))
    linked = link is not None and len(gpu_keys) > 1 and rng.random() < 0.85
    mig = can_mig and rng.random() < 0.25
    runtimes: list[str] = []
    if rng.random() < 0.9:
        runtimes.append("docker" if rng.random() < 0.85 else "podman")
        if vendor == "nvidia" and rng.random() < 0.8:
            runtimes.append("nvidia-container-toolkit")
    host = HostCapabilities(
        cpu_model="AMD EPYC 9654 96-Core Processor",
        cpu_cores=rng.choice((16, 32, 48, 64, 96, 128, 192, 256)),
        ram_gib=rng.choice((64, 128, 256, 512, 1024, 2048)),
        disk_free_gib=rng.randrange(100, 8_000),
        os="Ubuntu 22.04.4 LTS",
        kernel="6.5.0-41-generic",
        container_runtimes=sorted(runtimes),  # type: ignore[arg-type]
    )
    gpus = [
        GpuCapabilities(
            slot=f"0000:{0x18 + n:02x}:00.0",
            gpu_key=key,
            vendor=vendor,  # type: ignore[arg-type]
            model=name,
            memory_bytes=memory * GIB,
            driver_version=driver,
            cuda_version=cuda,
            rocm_version=rocm,
            compute_capability=capability,
            pcie=PcieCapabilities(generation=pcie, width=16),
            links=NvlinkCapabilities(kind=link, links=18, active_links=18)  # type: ignore[arg-type]
            if linked
            else None,
            mig_enabled=mig if can_mig else None,
        )
        for n, key in enumerate(gpu_keys)
    ]
    return CapabilityDocument(host=host, gpus=gpus)


def fill(
    engine: Engine,
    count: int,
    progress: Callable[[int], None] | None = None,
    epochs: int = 144,
    state: Engine | None = None,
) -> float:
    """Migrates and bulk-fills; returns seconds taken. With ``state`` (the API state's
    database, migrated to its head), each host's capability document and its GPUs' facets go
    there, and each GPU's ``capabilities`` names its host's document."""
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
    i = 0
    while i < count:
        rows: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        facets: list[dict[str, Any]] = []
        while i < count and len(rows) < chunk:
            # one host: 1-8 GPUs of one model under one provider
            size = min(rng.choice(HOST_SIZES), count - i)
            model = MODELS[rng.randrange(len(MODELS))]
            provider = providers[rng.randrange(len(providers))]
            host = [gpu_row(rng, i + n, model, provider, now) for n in range(size)]
            i += size
            rows += host
            if state is not None and rng.random() < DOCUMENTED_HOSTS:
                document = host_document(rng, model, [r["gpu_key"] for r in host])
                key = to_hex(document_hash(document))
                for row in host:
                    row["capabilities"] = key
                documents.append(
                    {
                        "document_hash": key,
                        "body": canonical_bytes(document).decode(),
                        "stored_at": now,
                    }
                )
                for facet in gpu_facets(document):
                    facets.append(
                        {
                            "document_hash": key,
                            **{f.name: getattr(facet, f.name) for f in fields(facet)},
                            "gpu_key": to_hex(facet.gpu_key),
                        }
                    )
        with engine.begin() as conn:
            conn.execute(insert(Gpu.__table__), rows)
        if state is not None and documents:
            with state.begin() as conn:
                conn.execute(insert(DOCUMENTS), documents)
                conn.execute(insert(FACETS), facets)
        if progress is not None:
            progress(len(rows))
    if state is not None and state.url != engine.url:
        with state.begin() as conn:
            conn.execute(text("ANALYZE"))
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
from types import SimpleNamespace
from fastapi import FastAPI, Depends
from pydantic import BaseModel
from sqlalchemy import create_engine, select, func
from sqlalchemy.orm import Session, sessionmaker
from api.capabilities import FACETS, attach_state
from depin.capabilities import version_key
from indexer.models import Gpu, LivenessEpoch, Provider

engine = create_engine(os.environ["NAIVE_URL"])
attach_state(engine, SimpleNamespace(path=os.environ.get("NAIVE_STATE") or None))
Factory = sessionmaker(engine)
app = FastAPI()
SORTS = {"gpu_key": Gpu.gpu_key, "memory": Gpu.memory_bytes, "throughput": Gpu.throughput_gops,
         "measured_at": Gpu.measured_at}
RUNTIMES = {"docker": FACETS.c.runtime_docker, "podman": FACETS.c.runtime_podman,
            "nvidia-container-toolkit": FACETS.c.runtime_nvidia}

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
def gpus(vendor: str | None = None, min_memory: int | None = None, online: bool | None = None,
         available: bool | None = None, healthy: bool | None = None,
         min_throughput: int | None = None, region: str | None = None,
         min_driver: str | None = None, min_cuda: str | None = None,
         min_rocm: str | None = None, min_compute_capability: str | None = None,
         interconnect: str | None = None, mig: bool | None = None, pcie_gen: int | None = None,
         min_host_cpu_cores: int | None = None, min_host_ram_gib: int | None = None,
         min_host_disk_gib: int | None = None, container_runtime: str | None = None,
         min_gpus_per_host: int | None = None, sort: str = "gpu_key",
         limit: int = 50, page: int = 0, s: Session = Depends(session)):
    epoch = s.scalar(select(func.max(LivenessEpoch.epoch)))
    live = Gpu.last_seen_epoch >= epoch - 2
    where = []
    if vendor is not None:
        where.append(Gpu.vendor == vendor)
    if min_memory is not None:
        where.append(Gpu.memory_bytes >= min_memory)
    if min_throughput is not None:
        where.append(Gpu.throughput_gops >= min_throughput)
    if online is not None:
        where.append(live if online else ~live | Gpu.last_seen_epoch.is_(None))
    if available is not None:
        where.append(live & Gpu.available.is_(True) if available
                     else ~live | Gpu.last_seen_epoch.is_(None) | Gpu.available.is_(False))
    if healthy is not None:
        where.append(live & Gpu.healthy.is_(healthy))
    if region is not None:
        where.append(Provider.region == region)
    f = FACETS.c
    facets = []
    for low, column in ((min_driver, f.driver_key), (min_cuda, f.cuda_key),
                        (min_rocm, f.rocm_key), (min_compute_capability, f.compute_capability_key)):
        if low is not None:
            facets.append(column >= version_key(low))
    for low, column in ((pcie_gen, f.pcie_gen), (min_host_cpu_cores, f.host_cpu_cores),
                        (min_host_ram_gib, f.host_ram_gib), (min_host_disk_gib, f.host_disk_gib),
                        (min_gpus_per_host, f.gpus_per_host)):
        if low is not None:
            facets.append(column >= low)
    if interconnect is not None:
        facets.append(f.interconnect == interconnect)
    if mig is not None:
        facets.append(f.mig.is_(mig))
    if container_runtime is not None:
        facets.append(RUNTIMES[container_runtime].is_(True))
    where += facets

    def joined(statement):
        if region is not None:
            statement = statement.join(Provider, Provider.address == Gpu.provider)
        if facets:
            statement = statement.join(FACETS, (f.document_hash == Gpu.capabilities)
                                       & (f.gpu_key == Gpu.gpu_key))
        return statement

    column = SORTS[sort.lstrip("-")]
    ordered = [column.desc(), Gpu.gpu_key.desc()] if sort.startswith("-") else [column, Gpu.gpu_key]
    rows = s.scalars(joined(select(Gpu)).where(*where).order_by(*ordered)
                     .offset(page * limit).limit(limit)).all()
    total = s.scalar(joined(select(func.count()).select_from(Gpu)).where(*where))
    return Page(items=[Item(gpu_key=r.gpu_key, provider=r.provider, vendor=r.vendor,
                            model=r.model, memory_bytes=r.memory_bytes,
                            throughput_gops=r.throughput_gops,
                            online=r.last_seen_epoch is not None and r.last_seen_epoch >= epoch - 2)
                       for r in rows],
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

#: on every request 1-4 filters, drawn among all of /v1/gpus's (sort counted as one), with
#: random values
RANDOM_SCRIPT = """
math.randomseed(os.time())
local function pick(t) return t[math.random(#t)] end
local regions = {$REGIONS}
local sorts = {"gpu_key", "-gpu_key", "memory", "-memory", "throughput", "-throughput",
               "measured_at", "-measured_at"}
local filters = {
  function() return "vendor=" .. pick({"nvidia", "nvidia", "amd", "intel"}) end,
  function() return "min_memory=" .. math.random(0, 200) * 1073741824 end,
  function() return "region=" .. pick(regions) end,
  function() return "online=" .. pick({"true", "true", "false"}) end,
  function() return "available=" .. pick({"true", "false"}) end,
  function() return "healthy=" .. pick({"true", "false"}) end,
  function() return "min_throughput=" .. math.random(0, 2600000) end,
  function() return "sort=" .. pick(sorts) end,
  function() return "min_driver=" .. math.random(470, 560) .. "." .. math.random(0, 199) end,
  function()
    return "min_cuda=" .. pick({"11." .. math.random(4, 8), "12." .. math.random(0, 10)})
  end,
  function() return "min_rocm=" .. pick({"5." .. math.random(4, 7), "6." .. math.random(0, 2)}) end,
  function()
    return "min_compute_capability=" .. pick({"7.0", "7.5", "8.0", "8.6", "8.9", "9.0"})
  end,
  function() return "interconnect=" .. pick({"nvlink", "xgmi", "pcie"}) end,
  function() return "mig=" .. pick({"true", "false"}) end,
  function() return "pcie_gen=" .. math.random(3, 5) end,
  function() return "min_host_cpu_cores=" .. math.random(8, 256) end,
  function() return "min_host_ram_gib=" .. math.random(32, 2048) end,
  function() return "min_host_disk_gib=" .. math.random(100, 8000) end,
  function()
    return "container_runtime=" .. pick({"docker", "podman", "nvidia-container-toolkit"})
  end,
  function() return "min_gpus_per_host=" .. math.random(1, 8) end,
}
request = function()
  local chosen, query = {}, ""
  local n = math.random(1, 4)
  while n > 0 do
    local i = math.random(#filters)
    if not chosen[i] then
      chosen[i] = true
      query = query .. "&" .. filters[i]()
      n = n - 1
    end
  end
  return wrk.format(nil, wrk.path .. query)
end
""".replace("$REGIONS", ", ".join(f'"{r}"' for r in REGIONS))


def wait_for_index(port: int, timeout: float = 900) -> float:
    """Waits until the API on ``port`` says (its metrics) its in-memory GPU index is built;
    returns what the build took."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scraped = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        gauges = dict(re.findall(r"^(depin_api_gpu_index_\w+) ([0-9.e+-]+)$", scraped, re.M))
        if float(gauges.get("depin_api_gpu_index_gpus", 0)) > 0:
            return float(gauges["depin_api_gpu_index_build_seconds"])
        time.sleep(0.5)
    raise RuntimeError(f"the API on port {port} did not build its GPU index")


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
    # The API's state (capability documents) of this run alone: a SQLite file in the run's
    # folder, or the PostgreSQL database itself; migrated by the API's own code, as at start-up.
    work = Path(tempfile.mkdtemp())
    state_path = work / "api-state.sqlite3"
    open_shared_state(url, state_path).close()
    state = (
        engine if engine.dialect.name != "sqlite" else create_engine(f"sqlite:///{state_path}")
    ).execution_options(schema_translate_map={SCHEMA_NAME: None})
    task = progress.add_task(f"{label}: filling", total=count)
    seconds = fill(engine, count, lambda n: progress.advance(task, n), epochs, state)
    progress.update(task, description=f"{label}: filled in {seconds:.1f}s")
    rows: list[Row] = []
    runs = progress.add_task(f"{label}: wrk", total=3 + 6 * len(variants))
    port = 18_000 + random.randrange(1000)
    miss_script = work / "miss.lua"
    miss_script.write_text(MISS_SCRIPT)
    random_script = work / "random.lua"
    random_script.write_text(RANDOM_SCRIPT)
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
            {
                "DEPIN_API_DATABASE_URL": url,
                "DEPIN_HOME": str(work),
                "DEPIN_API_HOME": str(work),
                "DEPIN_API_STATE_PATH": str(state_path),
                "CWD": str(work),
            },
            ports[v],
            json_logs if v == "on" else None,
        )
        for v in variants
    }
    base = first
    try:
        for v in variants:  # filters are answered from memory once the index is built
            built = wait_for_index(ports[v])
            progress.update(runs, description=f"{label}: GPU index built in {built:.1f}s")
        console.print(f"{label}: the in-memory GPU index was built in {built:.1f}s at start")
        body = json.loads(urllib.request.urlopen(base + QUERY).read())
        total = f"total={'' if body.get('total_exact', True) else '~'}{body['total']:,}"
        cursor = last = body["next_cursor"]
        for _ in range(19):  # page 21, or the last page of a small inventory
            if cursor is None:
                break
            last = cursor
            body = json.loads(urllib.request.urlopen(base + QUERY + f"&cursor={cursor}").read())
            cursor = body["next_cursor"]
        cursor = cursor or last
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
        measure("api random filter every request", base + PLAIN, "1-4 filters", random_script)
    finally:
        for api in servers.values():
            api.terminate()
            api.wait()
    naive_dir = Path(tempfile.mkdtemp())
    (naive_dir / "naive_app.py").write_text(NAIVE_APP)
    port += 1
    naive = serve(
        "naive_app:app",
        {
            "NAIVE_URL": url,
            "NAIVE_STATE": str(state_path) if engine.dialect.name == "sqlite" else "",
            "DEPIN_HOME": str(work),
            "CWD": str(naive_dir),
            "PYTHONPATH": f"{naive_dir}:{ROOT}",
        },
        port,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wrk(base + BASELINE_QUERY, 2, connections)
        measure("naive first page", base + BASELINE_QUERY)
        measure("naive page 21 (offset)", base + BASELINE_QUERY + "&page=20")
        measure("naive random filter every request", base + NAIVE_PLAIN, "", random_script)
    finally:
        naive.terminate()
        naive.wait()
    engine.dispose()
    state.dispose()
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
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
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
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                [{"db": lb, "route": n, **r, "note": note} for lb, n, r, note in rows], indent=1
            )
        )
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
        "targets: >= 1,500 req/s and p99 < 50 ms on SQLite at 100k; p99 < 50 ms on PostgreSQL "
        "at 1M; the random filter p99 < 100 ms on both"
    )


if __name__ == "__main__":
    main()
