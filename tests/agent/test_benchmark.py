"""The CPU (NumPy) benchmark path, which runs everywhere."""

from __future__ import annotations

import importlib
import importlib.util
from types import SimpleNamespace
from typing import Any

import pytest

from agent.benchmark import (
    CPU_PLAN,
    BenchmarkReport,
    BenchResult,
    Plan,
    TorchRunner,
    run_benchmarks,
    select_runner,
)
from agent.errors import BenchmarkError


def test_cpu_benchmarks_report_every_measure() -> None:
    """What the report says, not how long it took: ``bench/discovery.py`` holds the CPU plan to
    its 10 s target."""
    steps: list[tuple[str, int, int]] = []
    report = run_benchmarks("numpy", progress=lambda *s: steps.append(s))
    assert report.engine == "numpy" and report.device == "cpu"
    # the whole run covers every timed iteration
    assert report.elapsed_s >= sum(r.iterations * r.min_s for r in report.results) > 0
    names = [r.name for r in report.results]
    assert names == ["matmul_fp32", "matmul_fp16", "matmul_int8", "memory_bandwidth"]
    for r in report.results:
        assert r.skipped is None
        assert r.iterations == CPU_PLAN.iterations and r.warmup == CPU_PLAN.warmup
        assert r.min_s <= r.median_s <= r.max_s
        assert r.spread == pytest.approx((r.max_s - r.min_s) / r.median_s)
        assert r.value > 0
    fp32 = report.result("matmul_fp32")
    assert fp32 is not None and fp32.unit == "TFLOPS" and fp32.size == CPU_PLAN.fp32_n
    assert fp32.value == pytest.approx(2 * fp32.size**3 / fp32.median_s / 1e12)
    bandwidth = report.result("memory_bandwidth")
    assert bandwidth is not None and bandwidth.unit == "GB/s"
    assert bandwidth.value == pytest.approx(2 * CPU_PLAN.copy_bytes / bandwidth.median_s / 1e9)
    int8 = report.result("matmul_int8")
    assert int8 is not None and int8.unit == "TOPS"
    assert steps[-1] == ("memory_bandwidth", 4, 4)


def test_a_smaller_plan_is_honoured() -> None:
    plan = Plan(fp32_n=64, fp16_n=32, int8_n=32, copy_bytes=1 << 20, iterations=3, warmup=0)
    report = run_benchmarks("numpy", plan=plan)
    assert [r.size for r in report.results] == [64, 32, 32, 1 << 20]
    assert all(r.iterations == 3 for r in report.results)


def _has_gpu(engine: str) -> bool:
    """Whether ``engine`` is installed and sees a GPU (asked directly, not through the code)."""
    if importlib.util.find_spec(engine) is None:
        return False
    module = importlib.import_module(engine)
    try:
        if engine == "torch":
            return bool(module.cuda.is_available())
        return bool(module.cuda.runtime.getDeviceCount() > 0)
    except Exception:
        return False


@pytest.mark.parametrize("engine", ["torch", "cupy"])
def test_a_named_gpu_engine_without_a_gpu_is_refused(engine: str) -> None:
    if _has_gpu(engine):  # pragma: no cover - a GPU host
        pytest.skip(f"{engine} sees a GPU here")
    with pytest.raises(BenchmarkError, match=f"{engine} with a usable GPU is not available"):
        select_runner(engine)  # type: ignore[arg-type]


def test_auto_falls_back_to_numpy_without_a_gpu() -> None:
    if _has_gpu("torch") or _has_gpu("cupy"):  # pragma: no cover - a GPU host
        pytest.skip("a GPU is usable here")
    assert select_runner("auto").method == "numpy"


def test_torch_engine_on_the_cpu() -> None:
    """The torch engine's code path (operands, int8 through _int_mm, bf16, copy) on the CPU."""
    torch = pytest.importorskip("torch")
    plan = Plan(fp32_n=64, fp16_n=64, int8_n=64, copy_bytes=1 << 20, iterations=2, warmup=1)
    report = run_benchmarks(plan=plan, runner=TorchRunner(torch, device="cpu"))
    assert report.engine == "torch" and report.device == "cpu"
    names = [r.name for r in report.results]
    assert names == ["matmul_fp32", "matmul_fp16", "matmul_bf16", "matmul_int8", "memory_bandwidth"]
    by_name = {r.name: r for r in report.results}
    assert by_name["matmul_fp32"].skipped is None and by_name["matmul_fp32"].value > 0
    assert by_name["memory_bandwidth"].value > 0
    # int8 needs torch._int_mm for the device; where missing it is skipped with the reason
    int8 = by_name["matmul_int8"]
    assert int8.skipped is None or int8.skipped.startswith(("RuntimeError", "NotImplementedError"))


TINY = Plan(fp32_n=32, fp16_n=32, int8_n=32, copy_bytes=1 << 16, iterations=2, warmup=0)


def _daemon(benchmark: Any) -> Any:
    from eth_account import Account

    from agent.daemon import AgentDaemon, DaemonConfig

    client = SimpleNamespace(domain=None)
    return AgentDaemon(
        DaemonConfig(provider="0x" + "00" * 20),
        Account.create(),
        client,  # type: ignore[arg-type]
        ["http://127.0.0.1:1"],
        lambda: None,  # type: ignore[arg-type,return-value]
        benchmark=benchmark,
    )


def _claims(*indexes: int) -> list[Any]:
    return [SimpleNamespace(record=SimpleNamespace(index=i)) for i in indexes]


def test_each_gpu_gets_the_figures_measured_on_its_own_device() -> None:
    """A GPU engine measures every device once; a GPU carries its own device's figures."""
    torch = pytest.importorskip("torch")
    from agent.daemon import figures

    reports: dict[int, Any] = {}

    def on_device(index: int) -> Any:
        assert index not in reports, "a device was measured twice"
        reports[index] = run_benchmarks(plan=TINY, runner=TorchRunner(torch, device="cpu"))
        return reports[index]

    bench = _daemon(on_device).benchmark_figures(_claims(3, 0, 3, 1))
    assert sorted(reports) == [0, 1, 3]
    assert bench == {i: figures(report) for i, report in reports.items()}


def test_a_cpu_measurement_is_the_hosts_and_serves_every_gpu() -> None:
    from agent.daemon import figures

    reports: dict[int, Any] = {}

    def on_cpu(index: int) -> Any:
        reports[index] = run_benchmarks("numpy", plan=TINY)
        return reports[index]

    bench = _daemon(on_cpu).benchmark_figures(_claims(2, 5, 7))
    assert list(reports) == [2]  # measured once
    assert bench == dict.fromkeys((2, 5, 7), figures(reports[2]))


def test_a_slow_measurement_is_reported_as_at_least_one_and_a_missing_one_as_zero() -> None:
    """Oracles refuse a zero figure as unmeasured; fp16 on a CPU measures under 1 GFLOPS."""
    from agent.daemon import figures

    def result(name: str, value: float, skipped: str | None = None) -> BenchResult:
        timing = {"median_s": 1.0, "min_s": 1.0, "max_s": 1.0, "spread": 0.0}
        return BenchResult(
            name=name,
            method="test",
            device="cpu",
            size=1,
            iterations=1,
            warmup=0,
            value=value,
            unit="TFLOPS",
            skipped=skipped,
            **timing,
        )

    report = BenchmarkReport(
        engine="test",
        device="cpu",
        results=(
            result("matmul_fp32", 0.05),
            result("matmul_fp16", 0.0004),
            result("memory_bandwidth", 0.0, skipped="no device memory"),
        ),
        elapsed_s=1.0,
    )
    assert figures(report) == (50, 1, 0)
