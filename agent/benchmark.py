"""Throughput benchmarks: dense matmul (fp32, fp16/bf16, int8) and memory bandwidth.

Runs on the GPU through torch or cupy when one of them and a device are present (imported
lazily; neither is a dependency), and on the CPU through NumPy everywhere else, so the whole
path is tested on machines without a GPU.
"""

from __future__ import annotations

import abc
import importlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from agent.errors import BenchmarkError

Engine = Literal["auto", "numpy", "torch", "cupy"]
Progress = Callable[[str, int, int], None]


class BenchResult(BaseModel):
    """One measurement: what ran, how big, how often, and the median with its spread."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    method: str
    device: str
    dtype: str | None = None
    size: int
    bytes: int | None = None
    iterations: int
    warmup: int
    median_s: float
    min_s: float
    max_s: float
    spread: float  # (max - min) / median of the timed iterations
    value: float
    unit: Literal["TFLOPS", "TOPS", "GB/s"]
    skipped: str | None = None


class BenchmarkReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str
    device: str
    results: tuple[BenchResult, ...]
    elapsed_s: float

    def result(self, name: str) -> BenchResult | None:
        for r in self.results:
            if r.name == name:
                return r
        return None


@dataclass(frozen=True)
class Plan:
    """Sizes and iteration counts. The CPU defaults take about 2 s on two cores."""

    fp32_n: int = 1024
    fp16_n: int = 256
    int8_n: int = 256
    copy_bytes: int = 128 << 20
    iterations: int = 9
    warmup: int = 1


CPU_PLAN = Plan()
GPU_PLAN = Plan(fp32_n=8192, fp16_n=8192, int8_n=8192, copy_bytes=1 << 30, iterations=10, warmup=3)


def _summarize(
    name: str,
    method: str,
    device: str,
    dtype: str | None,
    size: int,
    nbytes: int | None,
    times: list[float],
    warmup: int,
    work: float,
    unit: Literal["TFLOPS", "TOPS", "GB/s"],
) -> BenchResult:
    median = statistics.median(times)
    scale = 1e12 if unit in ("TFLOPS", "TOPS") else 1e9
    return BenchResult(
        name=name,
        method=method,
        device=device,
        dtype=dtype,
        size=size,
        bytes=nbytes,
        iterations=len(times),
        warmup=warmup,
        median_s=median,
        min_s=min(times),
        max_s=max(times),
        spread=(max(times) - min(times)) / median if median > 0 else 0.0,
        value=work / median / scale if median > 0 else 0.0,
        unit=unit,
    )


def _skipped(
    name: str,
    method: str,
    device: str,
    dtype: str,
    size: int,
    reason: str,
    unit: Literal["TFLOPS", "TOPS", "GB/s"],
) -> BenchResult:
    return BenchResult(
        name=name,
        method=method,
        device=device,
        dtype=dtype,
        size=size,
        iterations=0,
        warmup=0,
        median_s=0.0,
        min_s=0.0,
        max_s=0.0,
        spread=0.0,
        value=0.0,
        unit=unit,
        skipped=reason,
    )


class Runner(abc.ABC):
    """One engine: how to make operands, run an op, and wait for the device."""

    method: str = "numpy"
    device: str = "cpu"

    def time(self, op: Callable[[], Any], iterations: int, warmup: int) -> list[float]:
        for _ in range(warmup):
            op()
        self.sync()
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            op()
            self.sync()
            times.append(time.perf_counter() - start)
        return times

    def sync(self) -> None:
        return None

    @abc.abstractmethod
    def matmul(self, dtype: str, n: int) -> Callable[[], Any]:
        """An operation multiplying two n x n matrices of ``dtype`` on the device."""

    @abc.abstractmethod
    def copy(self, nbytes: int) -> Callable[[], Any]:
        """An operation copying ``nbytes`` within device memory."""


class NumpyRunner(Runner):
    method = "numpy"

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def matmul(self, dtype: str, n: int) -> Callable[[], Any]:
        if dtype == "int8":
            a = self._rng.integers(-128, 128, (n, n), dtype=np.int8)
            b = self._rng.integers(-128, 128, (n, n), dtype=np.int8)
            a32, b32 = a.astype(np.int32), b.astype(np.int32)  # int32 accumulation, exact
            return lambda: np.matmul(a32, b32)
        np_dtype = {"fp32": np.float32, "fp16": np.float16}[dtype]
        a = self._rng.standard_normal((n, n)).astype(np_dtype)
        b = self._rng.standard_normal((n, n)).astype(np_dtype)
        return lambda: np.matmul(a, b)

    def copy(self, nbytes: int) -> Callable[[], Any]:
        src = np.ones(nbytes // 4, dtype=np.float32)
        dst = np.empty_like(src)
        return lambda: np.copyto(dst, src)


class TorchRunner(Runner):
    method = "torch"

    def __init__(self, torch: Any, device: str = "cuda", index: int = 0) -> None:
        self.torch = torch
        if device == "cuda":
            device = f"cuda:{index}"
            self.device = f"{device} ({torch.cuda.get_device_name(index)})"
            torch.backends.cuda.matmul.allow_tf32 = False
        else:
            self.device = device
        self._device = device
        self._gen = torch.Generator(device=device).manual_seed(0)

    def sync(self) -> None:
        if self._device.startswith("cuda"):
            self.torch.cuda.synchronize(self._device)

    def matmul(self, dtype: str, n: int) -> Callable[[], Any]:
        t, dev, gen = self.torch, self._device, self._gen
        if dtype == "int8":
            a = t.randint(-128, 128, (n, n), dtype=t.int8, device=dev, generator=gen)
            b = t.randint(-128, 128, (n, n), dtype=t.int8, device=dev, generator=gen)
            return lambda: t._int_mm(a, b)  # int32 accumulation on the int8 tensor cores
        tdt = {"fp32": t.float32, "fp16": t.float16, "bf16": t.bfloat16}[dtype]
        a = t.randn((n, n), dtype=tdt, device=dev, generator=gen)
        b = t.randn((n, n), dtype=tdt, device=dev, generator=gen)
        return lambda: t.matmul(a, b)

    def copy(self, nbytes: int) -> Callable[[], Any]:
        src = self.torch.ones(nbytes // 4, dtype=self.torch.float32, device=self._device)
        dst = self.torch.empty_like(src)
        return lambda: dst.copy_(src)


class CupyRunner(Runner):  # pragma: no cover - needs a GPU
    method = "cupy"

    def __init__(self, cp: Any, index: int = 0) -> None:
        self.cp = cp
        self._gpu = cp.cuda.Device(index)
        props = cp.cuda.runtime.getDeviceProperties(index)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        self.device = f"cuda:{index} ({name})"

    def sync(self) -> None:
        self._gpu.synchronize()

    def matmul(self, dtype: str, n: int) -> Callable[[], Any]:
        cp, gpu = self.cp, self._gpu
        if dtype == "int8":
            raise BenchmarkError("cupy has no int8 tensor-core matmul")
        cdt = {"fp32": cp.float32, "fp16": cp.float16}[dtype]
        with gpu:
            rng = cp.random.default_rng(0)
            a = rng.standard_normal((n, n), dtype=cp.float32).astype(cdt)
            b = rng.standard_normal((n, n), dtype=cp.float32).astype(cdt)

        def op() -> Any:
            with gpu:
                return cp.matmul(a, b)

        return op

    def copy(self, nbytes: int) -> Callable[[], Any]:
        cp, gpu = self.cp, self._gpu
        with gpu:
            src = cp.ones(nbytes // 4, dtype=cp.float32)
            dst = cp.empty_like(src)

        def op() -> Any:
            with gpu:
                return cp.copyto(dst, src)

        return op


def _gpu_runner(engine: Engine, index: int) -> Runner | None:
    order = ["torch", "cupy"] if engine == "auto" else [engine]
    for name in order:
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        try:
            if name == "torch" and index < module.cuda.device_count():
                return TorchRunner(module, index=index)
            if name == "cupy" and index < module.cuda.runtime.getDeviceCount():
                return CupyRunner(module, index=index)
        except Exception:
            continue
    return None


def select_runner(engine: Engine = "auto", device: int = 0) -> Runner:
    """The engine to use on GPU ``device`` (a CUDA index, in PCI bus order like NVML's when
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, which the agent sets): a GPU one where possible
    (``auto``), else NumPy."""
    if engine == "numpy":
        return NumpyRunner()
    runner = _gpu_runner(engine, device)
    if runner is not None:
        return runner
    if engine != "auto":
        raise BenchmarkError(f"{engine} with a usable GPU is not available on this host")
    return NumpyRunner()


def run_benchmarks(
    engine: Engine = "auto",
    *,
    plan: Plan | None = None,
    progress: Progress | None = None,
    runner: Runner | None = None,
    device: int = 0,
) -> BenchmarkReport:
    """Run every benchmark and return the results.

    Args:
        engine: ``auto`` (GPU through torch or cupy if present, else NumPy) or one by name.
        plan: sizes and iterations (default: CPU or GPU sized for the engine).
        progress: called as ``progress(step_name, done, total)`` after each step.
        runner: an engine instance to use instead of choosing one from ``engine``.
        device: the GPU to measure (its CUDA index).
    """
    started = time.perf_counter()
    runner = runner or select_runner(engine, device)
    plan = plan or (CPU_PLAN if runner.method == "numpy" else GPU_PLAN)
    steps: list[tuple[str, str, int]] = [
        ("matmul_fp32", "fp32", plan.fp32_n),
        ("matmul_fp16", "fp16", plan.fp16_n),
    ]
    if runner.method == "torch":
        steps.append(("matmul_bf16", "bf16", plan.fp16_n))
    steps.append(("matmul_int8", "int8", plan.int8_n))
    total = len(steps) + 1
    results: list[BenchResult] = []
    for done, (name, dtype, n) in enumerate(steps, start=1):
        unit: Literal["TFLOPS", "TOPS"] = "TOPS" if dtype == "int8" else "TFLOPS"
        try:
            op = runner.matmul(dtype, n)
            times = runner.time(op, plan.iterations, plan.warmup)
        except Exception as exc:
            results.append(
                _skipped(
                    name,
                    runner.method,
                    runner.device,
                    dtype,
                    n,
                    f"{type(exc).__name__}: {exc}",
                    unit,
                )
            )
        else:
            results.append(
                _summarize(
                    name,
                    runner.method,
                    runner.device,
                    dtype,
                    n,
                    None,
                    times,
                    plan.warmup,
                    2.0 * n**3,
                    unit,
                )
            )
        if progress:
            progress(name, done, total)
    op = runner.copy(plan.copy_bytes)
    times = runner.time(op, plan.iterations, plan.warmup)
    # a copy reads and writes every byte once
    results.append(
        _summarize(
            "memory_bandwidth",
            runner.method,
            runner.device,
            None,
            plan.copy_bytes,
            plan.copy_bytes,
            times,
            plan.warmup,
            2.0 * plan.copy_bytes,
            "GB/s",
        )
    )
    if progress:
        progress("memory_bandwidth", total, total)
    return BenchmarkReport(
        engine=runner.method,
        device=runner.device,
        results=tuple(results),
        elapsed_s=time.perf_counter() - started,
    )
