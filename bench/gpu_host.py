"""The prepared real-GPU run: everything a GPU host can tell us, measured once, in one folder.

On the GPU machine (one NVIDIA H200 or H100 with its driver, no network), from the
repository root, the one command is::

    .venv/bin/python bench/gpu_host.py --out $OUT

It runs for at most 8 minutes (``--deadline-s``, 450 by default) and writes under ``--out``
(default ``$OUT`` if set, else ``bench/out/gpu_host``):

============================  ==============================================================
``summary.json``              every step: status (ok, skipped, failed, timed_out), seconds,
                              its figures or the reason; the host; the files below
``discover.json``             ``depin agent discover --json``
``nvml_recording.json``       NVML's answers during discovery, by the project's recorder
                              (``agent/discovery/record.py``): a captured discovery fixture
``nvml_health.json``          what health would read through NVML (ECC counters, retired
                              pages, row remapping, XID events, clock event reasons, compute
                              processes, utilization, clocks, temperature, power); the calls
                              themselves are in ``nvml_health_recording.json``
``benchmarks.json``           the agent's benchmarks on each GPU (``agent/benchmark.py``)
``e2e/``                      the logs of the whole stack (``depin up``) when it ran
============================  ==============================================================

Steps, each time-boxed and recorded whatever happens (a failure never stops the rest):

* ``discover``, ``nvml_recording``, ``nvml_health``, ``benchmarks``;
* ``proof_torch``, ``proof_cupy`` (``proof_numpy`` in a dry run): the proof of compute at
  ``PRODUCTION_PARAMS`` under ``PRODUCTION_POLICY`` against the detected model's dense int8
  peak from ``depin/specs/gpus.json``: time to commitment as the oracle measures it, achieved
  int8 TOPS and its share of the peak, whether the deadline was met. A prover whose module is
  missing is skipped with the reason;
* ``oracle_verify``: the oracle's check of each proof above on this CPU (seconds, accepted or
  the refusal's code);
* ``e2e``: ``depin up`` (anvil, contracts, three oracles, indexer, API, and this host's agent,
  all under the project's Supervisor) until this host's GPU is verified and online in
  ``/v1/gpus`` (a real model id, not ``sim:``).

What to commit afterwards (from ``$OUT``)::

    tests/fixtures/discovery/nvml_1x_h200_captured.json   <- nvml_recording.json
    tests/fixtures/gpu_runs/h200/summary.json             <- summary.json
    tests/fixtures/gpu_runs/h200/{discover,benchmarks,nvml_health,nvml_health_recording}.json

(``provenance`` is ``captured`` in the recording; edit serials and UUIDs out first if needed,
and say so in its ``source``.) Then fill in the "not yet measured" figures of
``docs/proof-of-compute.md`` section 5 from ``summary.json``.

``--dry-run`` runs the same steps on a CPU: NVML replayed from the recorded 8 x H100 host
(``tests/fixtures/discovery/nvml_8x_h100_sxm.json``), the NumPy prover at ``CPU_PARAMS`` with
the oracle's simulated-GPU deadline, and ``depin up`` with one simulated agent replaying that
host. ``tests/bench/test_gpu_host_dry_run.py`` runs it in CI so that this script never rots.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from agent.discovery import NvmlBackend  # noqa: E402
from agent.discovery.recording import Recorder, nvml_replay  # noqa: E402
from depin._cli.supervisor import stop_group  # noqa: E402
from depin.proof import CPU_PARAMS, PRODUCTION_PARAMS, ProofError, ProofParams  # noqa: E402
from oracle.proof import (  # noqa: E402
    PRODUCTION_POLICY,
    ChallengeIssuer,
    InMemoryChallengeStore,
    IssuerPolicy,
    ProofVerifier,
    peak_tops_for_model,
)

console = Console(stderr=True)
REPLAYED_HOST = ROOT / "tests" / "fixtures" / "discovery" / "nvml_8x_h100_sxm.json"
DEPIN = [sys.executable, "-c", "from depin.cli import main; main()"]
#: The model assumed when discovery finds none the spec table knows (same int8 peak as H200).
FALLBACK_MODEL = "nvidia-h100-sxm5-80gb"
#: The oracle's treatment of simulated GPUs (``oracle/proof_service.py``): a fixed deadline.
SIM_POLICY = IssuerPolicy(efficiency_floor=1.0, max_allowance_fraction=0.0, reveal_window_s=60.0)
SIM_DEADLINE_S = 20.0


class Skipped(Exception):
    """A step that cannot run here; the message says why."""


@dataclass
class Run:
    """What the steps share: options, the output folder, and results for later steps."""

    out: Path
    dry_run: bool
    deadline: float  # time.monotonic() by which everything must be done
    shared: dict[str, Any] = field(default_factory=dict)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def write(self, name: str, data: Any) -> str:
        path = self.out / name
        path.write_text(json.dumps(data, indent=1, default=str) + "\n")
        return name


# --------------------------------------------------------------------------- steps


def nvml_module(run: Run) -> Any:
    """``pynvml``, or in a dry run its replay of the recorded H100 host."""
    if run.dry_run:
        return nvml_replay(json.loads(REPLAYED_HOST.read_text()))
    import pynvml

    return pynvml


def step_discover(run: Run) -> dict[str, Any]:
    argv = [*DEPIN, "agent", "discover", "--json"]
    if run.dry_run:
        argv += ["--replay", f"nvml={REPLAYED_HOST}"]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=max(5.0, min(120.0, run.left())), cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    inventory = json.loads(done.stdout)
    run.write("discover.json", inventory)
    gpus = inventory.get("gpus", [])
    models = [g.get("model_id") for g in gpus]
    run.shared["gpus"] = gpus
    run.shared["model_id"] = next((m for m in models if m and m != "unknown"), None)
    return {
        "file": "discover.json",
        "gpus": len(gpus),
        "models": sorted({str(m) for m in models}),
        "names": [g.get("name") for g in gpus],
        "driver": gpus[0].get("driver_version") if gpus else None,
        "backends": {b["backend"]: b.get("reason") or b["devices"] for b in inventory["backends"]},
    }


def _nvml_code(exc: BaseException) -> Any:
    return getattr(exc, "value", None)


def step_nvml_recording(run: Run) -> dict[str, Any]:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    names = sorted({g.get("name") or "?" for g in run.shared.get("gpus", [])})
    if run.dry_run:
        recorder = Recorder(
            nvml_module(run),
            source=f"dry run of bench/gpu_host.py: a replay of {REPLAYED_HOST.name} (synthetic)",
            error_code=_nvml_code,
        )
        report = NvmlBackend(recorder).run().report
        data = recorder.recording()
        data.update(provenance="replayed", library="pynvml", report=report.model_dump())
    else:
        from agent.discovery.record import record

        driver = (run.shared.get("gpus") or [{}])[0].get("driver_version")
        source = (
            f"Captured by bench/gpu_host.py on {socket.gethostname()}: "
            f"{len(run.shared.get('gpus', []))} x {', '.join(names)}, driver {driver}, {stamp}"
        )
        data, _ = record("nvml", source)
    run.write("nvml_recording.json", data)
    return {
        "file": "nvml_recording.json",
        "calls": len(data["calls"]),
        "provenance": data.get("provenance"),
        "report": data.get("report"),
    }


def _call(nvml: Any, fn: str, *args: Any) -> Any:
    """One NVML call as JSON: its value, or ``{"error": ...}``."""
    try:
        value = getattr(nvml, fn)(*args)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "_fields_"):
        return {name: _plain(getattr(value, name)) for name, *_ in value._fields_}
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value


def step_nvml_health(run: Run) -> dict[str, Any]:
    """What a health monitor would read, per GPU; each call's answer or its error."""
    base = nvml_module(run)
    nvml: Any = base if run.dry_run else Recorder(base, source="nvml health", error_code=_nvml_code)
    nvml.nvmlInit()
    try:
        count = nvml.nvmlDeviceGetCount()
        devices = []
        for i in range(count):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            d: dict[str, Any] = {"index": i, "uuid": _call(nvml, "nvmlDeviceGetUUID", h)}
            d["ecc_errors"] = {
                f"{kind}_{counter}": _call(nvml, "nvmlDeviceGetTotalEccErrors", h, e, c)
                for e, kind in ((0, "corrected"), (1, "uncorrected"))
                for c, counter in ((0, "volatile"), (1, "aggregate"))
            }
            d["retired_pages"] = {
                cause: _call(nvml, "nvmlDeviceGetRetiredPages", h, code)
                for code, cause in ((0, "multiple_single_bit"), (1, "double_bit"))
            }
            d["retired_pages_pending"] = _call(nvml, "nvmlDeviceGetRetiredPagesPendingStatus", h)
            d["remapped_rows"] = _call(nvml, "nvmlDeviceGetRemappedRows", h)
            d["clocks_event_reasons"] = _call(nvml, "nvmlDeviceGetCurrentClocksEventReasons", h)
            d["clocks_throttle_reasons"] = _call(
                nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", h
            )
            d["compute_processes"] = _call(nvml, "nvmlDeviceGetComputeRunningProcesses", h)
            d["utilization"] = _call(nvml, "nvmlDeviceGetUtilizationRates", h)
            d["clocks_mhz"] = {
                name: _call(nvml, "nvmlDeviceGetClockInfo", h, code)
                for code, name in ((0, "graphics"), (1, "sm"), (2, "memory"))
            }
            d["temperature_c"] = _call(nvml, "nvmlDeviceGetTemperature", h, 0)
            d["power_mw"] = _call(nvml, "nvmlDeviceGetPowerUsage", h)
            d["performance_state"] = _call(nvml, "nvmlDeviceGetPerformanceState", h)
            d["xid_events"] = _xid_events(nvml, h)
            devices.append(d)
    finally:
        nvml.nvmlShutdown()
    data = {"source": "bench/gpu_host.py", "dry_run": run.dry_run, "devices": devices}
    files = [run.write("nvml_health.json", data)]
    if isinstance(nvml, Recorder):
        recording = nvml.recording()
        recording.update(provenance="captured", library="pynvml")
        files.append(run.write("nvml_health_recording.json", recording))
    readable = sum(
        1 for d in devices for v in d.values() if not (isinstance(v, dict) and "error" in v)
    )
    return {"files": files, "devices": len(devices), "fields_read": readable}


def _xid_events(nvml: Any, handle: Any) -> Any:
    """XID events pending now (waits 100 ms); an error if events are not readable here."""
    try:
        event_set = nvml.nvmlEventSetCreate()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    try:
        nvml.nvmlDeviceRegisterEvents(handle, 0x8, event_set)  # nvmlEventTypeXidCriticalError
        events = []
        while len(events) < 64:
            try:
                data = nvml.nvmlEventSetWait_v2(event_set, 100)
            except Exception:  # NVML_ERROR_TIMEOUT: nothing pending
                break
            events.append(_plain(data))
        return events
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlEventSetFree(event_set)


def step_benchmarks(run: Run) -> dict[str, Any]:
    from agent.benchmark import run_benchmarks
    from agent.daemon import SIMULATED_PLAN

    if run.dry_run:
        reports = {"cpu": run_benchmarks("numpy", plan=SIMULATED_PLAN)}
    else:
        count = max(1, len(run.shared.get("gpus", [])))
        reports = {str(i): run_benchmarks("auto", device=i) for i in range(count)}
    run.write("benchmarks.json", {k: r.model_dump() for k, r in reports.items()})
    return {
        "file": "benchmarks.json",
        "devices": {
            k: {
                "engine": r.engine,
                "device": r.device,
                **{x.name: (x.value, x.unit) if not x.skipped else x.skipped for x in r.results},
            }
            for k, r in reports.items()
        },
    }


def _proof_setup(run: Run) -> tuple[ProofParams, IssuerPolicy, str, float, str]:
    if run.dry_run:
        model = run.shared.get("model_id") or FALLBACK_MODEL
        return CPU_PARAMS, SIM_POLICY, model, CPU_PARAMS.ops / (SIM_DEADLINE_S * 1e12), "sim"
    model = run.shared.get("model_id") or FALLBACK_MODEL
    try:
        peak = peak_tops_for_model(model)
    except LookupError:
        model, peak = FALLBACK_MODEL, peak_tops_for_model(FALLBACK_MODEL)
    return PRODUCTION_PARAMS, PRODUCTION_POLICY, model, peak, "production"


def _prove(run: Run, name: str, make: Callable[[], Any]) -> dict[str, Any]:
    """Challenges issued and committed through the oracle's own issuer and verifier."""
    params, policy, model, peak, policy_name = _proof_setup(run)
    prover = make()
    # Warm-up (kernels, allocator) at the production shape with two rounds, outside the oracle.
    warm = ProofParams(rows=params.rows, inner=params.inner, cols=params.cols, rounds=2, samples=2)
    lenient = IssuerPolicy(efficiency_floor=1.0, max_allowance_fraction=0.0)
    warm_issuer = ChallengeIssuer(InMemoryChallengeStore(), lenient)
    started = time.perf_counter()
    prover.run(warm_issuer.issue(model_id=model, params=warm, peak_tops=1e-3).challenges[0])
    warmup_s = time.perf_counter() - started
    store = InMemoryChallengeStore()
    issuer, verifier = ChallengeIssuer(store, policy), ProofVerifier(store, policy)
    attempts = []
    for _ in range(2 if not run.dry_run else 1):
        if run.left() < 30 and attempts:
            break
        challenge = issuer.issue(model_id=model, params=params, peak_tops=peak).challenges[0]
        result = prover.run(challenge)
        arrival = time.time()
        entry: dict[str, Any] = {
            "prover_elapsed_s": result.elapsed_s,
            "time_to_commitment_s": arrival - challenge.issued_at,
            "deadline_s": challenge.deadline_s,
        }
        entry["achieved_tops"] = params.ops / entry["time_to_commitment_s"] / 1e12
        entry["fraction_of_peak"] = entry["achieved_tops"] / peak
        try:
            request = verifier.accept_commitment(result.commitment)
        except ProofError as exc:
            entry["commitment"] = exc.code
        else:
            entry["commitment"] = "accepted"
            run.shared.setdefault("to_verify", []).append((name, verifier, result, request))
        entry["within_deadline"] = entry["time_to_commitment_s"] <= challenge.deadline_s
        attempts.append(entry)
    best = min(attempts, key=lambda a: a["time_to_commitment_s"])
    return {
        "prover": prover.name,
        "model_id": model,
        "peak_int8_tops": peak,
        "policy": policy_name,
        "params": params.model_dump(),
        "ops": params.ops,
        "warmup_s": warmup_s,
        "time_to_commitment_s": best["time_to_commitment_s"],
        "achieved_tops": best["achieved_tops"],
        "fraction_of_peak": best["fraction_of_peak"],
        "within_deadline": best["within_deadline"],
        "attempts": attempts,
    }


def step_proof_torch(run: Run) -> dict[str, Any]:
    from agent.prover import TorchProver, torch_available

    if not torch_available():
        raise Skipped("torch is not importable")
    if run.dry_run:
        return _prove(run, "torch", lambda: TorchProver("cpu"))
    if not torch_available(cuda=True):
        raise Skipped("torch sees no CUDA device")
    try:
        return _prove(run, "torch", lambda: TorchProver("cuda:0"))
    finally:
        import torch

        torch.cuda.empty_cache()


def step_proof_cupy(run: Run) -> dict[str, Any]:
    from agent.prover import CupyProver, cupy_available

    if not cupy_available():
        raise Skipped("cupy is not importable or sees no CUDA device")
    if run.dry_run:
        raise Skipped("the CuPy prover needs a GPU")
    return _prove(run, "cupy", lambda: CupyProver(0))


def step_proof_numpy(run: Run) -> dict[str, Any]:
    from agent.prover import NumpyProver

    return _prove(run, "numpy", NumpyProver)


def step_oracle_verify(run: Run) -> dict[str, Any]:
    pending = run.shared.pop("to_verify", [])
    if not pending:
        raise Skipped("no proof was committed in time to verify")
    out: dict[str, Any] = {}
    for name, verifier, result, request in pending:
        response = result.reveal(request)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            proof = verifier.verify(response)
            verdict: dict[str, Any] = {"verdict": "accepted", "attested_tops": proof.attested_tops}
        except ProofError as exc:
            verdict = {"verdict": exc.code, "error": str(exc)}
        verdict["wall_s"] = time.perf_counter() - wall
        verdict["cpu_s"] = time.process_time() - cpu
        verdict["reveal_bytes"] = len(response.model_dump_json())
        out.setdefault(name, []).append(verdict)
    return out


def step_e2e(run: Run) -> dict[str, Any]:
    """``depin up`` until this host's GPU (a simulated one in a dry run) is verified and online."""
    from depin.chain import free_port

    home = Path(tempfile.mkdtemp(prefix="depin-gpu-host-"))
    chain, api, oracle = free_port(), free_port(), free_port()
    argv = [
        *DEPIN, "up", "--home", str(home), "--port", str(chain), "--api-port", str(api),
        "--oracle-port", str(oracle), "--epoch-length", "10",
    ]  # fmt: skip
    argv += ["--no-agent", "--demo-fleet", "1"] if run.dry_run else []
    logs = run.out / "e2e"
    logs.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    result: dict[str, Any] = {"argv": argv[3:]}
    with (logs / "depin-up.log").open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
    url = f"http://127.0.0.1:{api}/v1/gpus"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"depin up exited with {process.returncode}")
            if run.left() < 5:
                raise TimeoutError("the global deadline came before the GPU was online")
            try:
                page = httpx.get(url, params={"verified": "true"}, timeout=5).json()
            except (httpx.HTTPError, ValueError):
                time.sleep(0.5)
                continue
            items = page.get("items", [])
            wanted = [g for g in items if str(g.get("model", "")).startswith("sim:") == run.dry_run]
            if wanted and "verified_s" not in result:
                result["verified_s"] = time.monotonic() - started
            if any(g.get("online") for g in wanted):
                result["online_s"] = time.monotonic() - started
                result["gpus"] = wanted
                return result
            time.sleep(0.5)
    finally:
        stop_group(process)
        for path in (home / "logs").glob("*"):
            if path.is_file():
                (logs / path.name).write_bytes(path.read_bytes()[-200_000:])
        shutil.rmtree(home, ignore_errors=True)
        text = (logs / "depin-up.log").read_text(errors="replace")
        ready = [line for line in text.splitlines() if "ready" in line and " in " in line]
        result["ready_line"] = ready[-1].strip() if ready else None


# --------------------------------------------------------------------------- running


Step = Callable[[Run], dict[str, Any]]


def steps_for(dry_run: bool) -> list[tuple[str, Step, float]]:
    """(name, step, time box in seconds), in the order they run."""
    provers: list[tuple[str, Step, float]] = [
        ("proof_torch", step_proof_torch, 90.0),
        ("proof_cupy", step_proof_cupy, 120.0),
    ]
    if dry_run:
        provers.insert(0, ("proof_numpy", step_proof_numpy, 30.0))
    return [
        ("discover", step_discover, 60.0),
        ("nvml_recording", step_nvml_recording, 60.0),
        ("nvml_health", step_nvml_health, 30.0),
        ("benchmarks", step_benchmarks, 90.0),
        *provers[:-1],
        ("oracle_verify", step_oracle_verify, 60.0),
        ("e2e", step_e2e, 150.0),
        provers[-1],  # CuPy last: slowest, and least needed
    ]


def run_step(run: Run, name: str, step: Step, budget: float) -> dict[str, Any]:
    """Run one step in a thread for at most ``budget`` (and the global deadline)."""
    limit = min(budget, run.left())
    if limit <= 1:
        return {"status": "timed_out", "seconds": 0.0, "reason": "no time left before deadline"}
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = step(run)
            box["status"] = "ok"
        except Skipped as exc:
            box["status"], box["reason"] = "skipped", str(exc)
        except BaseException as exc:
            box["status"], box["error"] = "failed", f"{type(exc).__name__}: {exc}"
            box["traceback"] = traceback.format_exc(limit=6)

    started = time.monotonic()
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(limit)
    seconds = time.monotonic() - started
    if thread.is_alive():
        return {"status": "timed_out", "seconds": seconds, "reason": f"over {limit:.0f} s"}
    return {"seconds": seconds, **box}


def host_facts() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"gpu host run ({'dry run' if summary['dry_run'] else 'GPU'})")
    table.add_column("step")
    table.add_column("status")
    table.add_column("s", justify="right")
    table.add_column("figures / reason", overflow="fold")
    colours = {"ok": "green", "skipped": "yellow", "failed": "red", "timed_out": "red"}
    for name, s in summary["steps"].items():
        result = s.get("result") or {}
        keys = (
            *("gpus", "models", "calls", "fields_read", "time_to_commitment_s", "achieved_tops"),
            *("fraction_of_peak", "within_deadline", "verified_s", "online_s"),
        )
        brief = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={len(v) if k == 'gpus' else v}"
            for k, v in result.items()
            if k in keys and not (name == "discover" and k == "gpus")
        )
        if name == "oracle_verify" and result:
            brief = "; ".join(
                f"{p}: {v[0]['verdict']} in {v[0]['wall_s']:.2f} s" for p, v in result.items()
            )
        text = brief or s.get("reason") or s.get("error") or ""
        status = s["status"]
        table.add_row(name, f"[{colours[status]}]{status}[/]", f"{s['seconds']:.1f}", text)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = os.environ.get("OUT") or str(ROOT / "bench" / "out" / "gpu_host")
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--dry-run", action="store_true", help="CPU only, NVML replayed")
    parser.add_argument("--deadline-s", type=float, default=450.0, help="for the whole run")
    parser.add_argument("--only", action="append", help="run only these steps (repeatable)")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    run = Run(out=args.out, dry_run=args.dry_run, deadline=started + args.deadline_s)
    summary: dict[str, Any] = {
        "script": "bench/gpu_host.py",
        "dry_run": args.dry_run,
        "deadline_s": args.deadline_s,
        "host": host_facts(),
        "steps": {},
    }
    plan = [s for s in steps_for(args.dry_run) if not args.only or s[0] in args.only]
    with console.status("") as status:
        for index, (name, step, budget) in enumerate(plan, start=1):
            status.update(f"[{index}/{len(plan)}] {name} (at most {min(budget, run.left()):.0f} s)")
            outcome = run_step(run, name, step, budget)
            summary["steps"][name] = outcome
            console.print(f"{name}: {outcome['status']} in {outcome['seconds']:.1f} s")
            run.write("summary.json", summary)  # kept current, in case the run is cut short
    summary["wall_s"] = time.monotonic() - started
    summary["files"] = sorted(str(p.relative_to(args.out)) for p in args.out.rglob("*.json"))
    run.write("summary.json", summary)
    print_summary(summary)
    print(json.dumps({k: v["status"] for k, v in summary["steps"].items()}))
    sys.stdout.flush()
    sys.stderr.flush()
    # A step that overran its box may still hold a thread (a GPU call, say): do not wait for it.
    os._exit(0)


if __name__ == "__main__":
    main()
