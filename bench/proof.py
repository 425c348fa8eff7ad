"""Proof of compute: prover and verifier cost, beside the naive verifier that recomputes it all.

Usage:
    .venv/bin/python bench/proof.py                  # CPU figures (runs anywhere)
    .venv/bin/python bench/proof.py --production     # adds the production run on cuda:0
    .venv/bin/python bench/proof.py --json out.json  # the figures as a fixture

Sections:
    cpu           NumPy (and CPU torch) prover at CPU_PARAMS; the oracle's spot check beside
                  the baseline of recomputing every round's product and digests.
    production_verify
                  The oracle's check at PRODUCTION_PARAMS, on this CPU. The revealed rows are
                  generated honestly with NumPy for the sampled rows only; the digest vectors
                  carry the true digests at the sampled rows (other entries are never read
                  except by the hash), so the oracle's work is exactly that of a real reveal.
    production    (--production, needs torch and CUDA) time to commitment, achieved int8 TOPS
                  against the published peak, the raw _int_mm rate at the same shape, and the
                  oracle's check of that run.

The JSON document has one key per section; numbers are seconds, TOPS or ratios, named in
their keys, so a capture from an H100 can be stored as a fixture and compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.prover import NumpyProver, ProverRun, commitment_for, torch_available
from depin.proof import (
    CPU_PARAMS,
    PRODUCTION_PARAMS,
    Challenge,
    PickModel,
    ProofParams,
    RevealRequest,
    spec,
)
from oracle.proof import PRODUCTION_POLICY, draw_picks, min_passing_tops, verify_reveal
from oracle.proof.issuer import deadline_s

console = Console(stderr=True)
H100 = "nvidia-h100-sxm5-80gb"
H100_PEAK = 1979.0


def challenge_for(params: ProofParams, peak: float = H100_PEAK, model_id: str = H100) -> Challenge:
    window, allowance = deadline_s(params, peak, PRODUCTION_POLICY, 0.0)
    now = time.time()
    return Challenge(
        challenge_id=os.urandom(16).hex(),
        batch_id=os.urandom(16).hex(),
        device_index=0,
        seed=os.urandom(32).hex(),
        params=params,
        model_id=model_id,
        peak_tops=peak,
        efficiency_floor=PRODUCTION_POLICY.efficiency_floor,
        allowance_s=allowance,
        issued_at=now,
        deadline_at=now + window,
        expires_at=now + window + 60,
    )


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; its result, wall seconds and CPU seconds (all threads of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def request_for(challenge: Challenge, rng: random.Random) -> RevealRequest:
    picks = draw_picks(challenge.params, rng)
    return RevealRequest(
        challenge_id=challenge.challenge_id,
        picks=tuple(PickModel(round=p.round, row=p.row) for p in picks),
    )


def full_recompute(challenge: Challenge) -> None:
    """The baseline verifier: every round's whole product and digests, then every hash."""
    seed, p = challenge.seed_bytes, challenge.params
    a = spec.a_rows(seed, p, np.arange(p.rows))
    b = spec.b_rows(seed, p, 0, p.inner).astype(np.float64)
    masks = spec.mask_rows(seed, p, np.arange(p.rounds))
    column_salt = spec.salt(seed, p)
    for r in range(p.rounds):
        c = (np.bitwise_xor(a, masks[r]).astype(np.float64) @ b).astype(np.int32)
        spec.round_hash(challenge.id_bytes, r, spec.digest_rows(c, column_salt))


def bench_cpu(repeats: int) -> dict[str, Any]:
    rng = random.Random(1)
    rows: dict[str, list[float]] = {
        "numpy_prover_s": [],
        "torch_cpu_prover_s": [],
        "verify_wall_s": [],
        "verify_cpu_s": [],
        "baseline_full_recompute_wall_s": [],
        "baseline_full_recompute_cpu_s": [],
    }
    prover_torch: Any = None
    if torch_available():
        from agent.prover import TorchProver

        prover_torch = TorchProver("cpu")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("CPU parameters", total=repeats)
        for _ in range(repeats):
            challenge = challenge_for(CPU_PARAMS)
            run, wall, _ = timed(partial(NumpyProver().run, challenge))
            rows["numpy_prover_s"].append(wall)
            if prover_torch is not None:
                _, wall, _ = timed(partial(prover_torch.run, challenge))
                rows["torch_cpu_prover_s"].append(wall)
            request = request_for(challenge, rng)
            response = run.reveal(request)
            _, wall, cpu = timed(
                partial(verify_reveal, challenge, run.commitment, request.pick_list(), response)
            )
            rows["verify_wall_s"].append(wall)
            rows["verify_cpu_s"].append(cpu)
            _, wall, cpu = timed(partial(full_recompute, challenge))
            rows["baseline_full_recompute_wall_s"].append(wall)
            rows["baseline_full_recompute_cpu_s"].append(cpu)
            progress.advance(task)
    out: dict[str, Any] = {"params": CPU_PARAMS.model_dump(), "ops": CPU_PARAMS.ops}
    for key, values in rows.items():
        if values:
            out[key] = statistics.median(values)
    out["numpy_prover_tops"] = CPU_PARAMS.ops / out["numpy_prover_s"] / 1e12
    out["spot_check_speedup_vs_full"] = out["baseline_full_recompute_cpu_s"] / out["verify_cpu_s"]
    return out


def honest_reveal_for_verification(
    challenge: Challenge, rng: random.Random
) -> tuple[ProverRun, RevealRequest]:
    """A reveal of the sampled rows only, honestly computed; other digest entries are zero."""
    p = challenge.params
    request = request_for(challenge, rng)
    picks = request.pick_list()
    rows = spec.product_rows(challenge.seed_bytes, p, picks)
    digests = np.zeros((p.rounds, p.rows), dtype=np.int64)
    sampled = spec.digest_rows(rows, spec.salt(challenge.seed_bytes, p))
    for pick, d in zip(picks, sampled, strict=True):
        digests[pick.round, pick.row] = d
    lookup = {pick: row for pick, row in zip(picks, rows, strict=True)}
    run = ProverRun(
        challenge=challenge,
        digests=digests,
        commitment=commitment_for(challenge, digests, "bench"),
        elapsed_s=0.0,
        row_source=lambda ps: np.stack([lookup[x] for x in ps]),
    )
    return run, request


def bench_production_verify(repeats: int) -> dict[str, Any]:
    rng = random.Random(2)
    walls, cpus, gflops = [], [], []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("production verification (CPU)", total=repeats)
        for _ in range(repeats):
            challenge = challenge_for(PRODUCTION_PARAMS)
            run, request = honest_reveal_for_verification(challenge, rng)
            response = run.reveal(request)
            _, wall, cpu = timed(
                partial(verify_reveal, challenge, run.commitment, request.pick_list(), response)
            )
            walls.append(wall)
            cpus.append(cpu)
            progress.advance(task)
    # The naive verifier's cost, extrapolated from this CPU's exact-float32 GEMM rate.
    a = np.random.default_rng(0).integers(-128, 128, (512, 1024)).astype(np.float32)
    b = np.random.default_rng(1).integers(-128, 128, (1024, 1024)).astype(np.float32)
    for _ in range(3):
        _, wall, _ = timed(lambda: a @ b)
        gflops.append(2 * 512 * 1024 * 1024 / wall / 1e9)
    rate = max(gflops)
    p = PRODUCTION_PARAMS
    return {
        "params": p.model_dump(),
        "ops": p.ops,
        "verify_wall_s": statistics.median(walls),
        "verify_cpu_s": statistics.median(cpus),
        "verify_cpu_s_max": max(cpus),
        "reveal_bytes": len(response.model_dump_json()),
        "cpu_f32_gemm_gflops": rate,
        "baseline_full_recompute_estimated_s": p.ops / (rate * 1e9),
    }


def bench_production_gpu(model_id: str, peak: float) -> dict[str, Any]:
    import torch

    from agent.prover import TorchProver

    p = PRODUCTION_PARAMS
    prover = TorchProver("cuda:0")
    warm = ProofParams(rows=p.rows, inner=p.inner, cols=p.cols, rounds=2, samples=2)
    prover.run(challenge_for(warm, peak, model_id))  # kernels, allocator, cuBLASLt heuristics
    # Raw _int_mm rate at the production shape (the ceiling for the whole challenge).
    s = prover.seeded(challenge_for(warm, peak, model_id))
    c = torch.empty((p.rows, p.cols), dtype=torch.int32, device="cuda:0")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        torch._int_mm(s.a, s.b, out=c)
    torch.cuda.synchronize()
    gemm_tops = 20 * p.ops_per_round / (time.perf_counter() - t0) / 1e12
    del s, c
    results = []
    for _ in range(3):
        challenge = challenge_for(p, peak, model_id)
        run, wall, _ = timed(partial(prover.run, challenge))
        request = request_for(challenge, random.Random())
        response = run.reveal(request)
        _, vwall, vcpu = timed(
            partial(verify_reveal, challenge, run.commitment, request.pick_list(), response)
        )
        results.append((wall, vwall, vcpu, challenge.deadline_s))
    wall, vwall, vcpu, window = min(results)
    tops = p.ops / wall / 1e12
    return {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "model_id": model_id,
        "peak_tops": peak,
        "params": p.model_dump(),
        "time_to_commitment_s": wall,
        "time_to_commitment_all_s": [r[0] for r in results],
        "achieved_tops": tops,
        "fraction_of_peak": tops / peak,
        "int_mm_tops": gemm_tops,
        "int_mm_fraction_of_peak": gemm_tops / peak,
        "deadline_s": window,
        "within_deadline": wall <= window,
        "verify_wall_s": vwall,
        "verify_cpu_s": vcpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--production", action="store_true", help="run on cuda:0 as well")
    parser.add_argument("--model", default=H100, help="claimed model for --production")
    parser.add_argument("--peak-tops", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)

    report: dict[str, Any] = {
        "version": spec.VERSION,
        "host": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
        },
        "policy": {
            "efficiency_floor": PRODUCTION_POLICY.efficiency_floor,
            "max_allowance_fraction": PRODUCTION_POLICY.max_allowance_fraction,
            "min_passing_tops_h100": min_passing_tops(H100_PEAK, PRODUCTION_POLICY),
            "half_h100_tops": H100_PEAK / 2,
            "production_samples": PRODUCTION_PARAMS.samples,
            "pass_bound_half_rows": 0.5**PRODUCTION_PARAMS.samples,
            "pass_bound_90pct_rows": 0.9**PRODUCTION_PARAMS.samples,
            # A device sustaining half the peak must skip work to finish in time.
            "pass_bound_half_peak_device": min(
                1.0, (H100_PEAK / 2) / min_passing_tops(H100_PEAK, PRODUCTION_POLICY)
            )
            ** PRODUCTION_PARAMS.samples,
            "production_deadline_h100_s": deadline_s(
                PRODUCTION_PARAMS, H100_PEAK, PRODUCTION_POLICY, 0.0
            )[0],
        },
    }
    report["cpu"] = bench_cpu(args.repeats)
    report["production_verify"] = bench_production_verify(max(1, min(args.repeats, 3)))
    if args.production:
        if not torch_available(cuda=True):
            console.print("[red]--production needs torch with a CUDA device[/red]")
            return 2
        from oracle.proof import peak_tops_for_model

        peak = args.peak_tops or peak_tops_for_model(args.model)
        report["production"] = bench_production_gpu(args.model, peak)

    table = Table(title=f"proof of compute ({spec.VERSION})")
    table.add_column("section")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for section in ("policy", "cpu", "production_verify", "production"):
        for key, value in report.get(section, {}).items():
            if isinstance(value, float):
                table.add_row(section, key, f"{value:.6g}")
            elif isinstance(value, int | bool | str):
                table.add_row(section, key, str(value))
    console.print(table)
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
