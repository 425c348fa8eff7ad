"""One challenge per GPU, all at once, each pinned to its own device."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from agent.prover._base import Prover, ProverRun
from agent.prover.cupy_prover import CupyProver, cupy_available
from agent.prover.numpy_prover import NumpyProver
from agent.prover.torch_prover import TorchProver, torch_available
from depin.proof.messages import ChallengeBatch, Commitment

__all__ = ["best_prover", "commitments_of", "run_batch"]


def best_prover(device_index: int) -> Prover:
    """The fastest prover available for a device: torch on CUDA, then CuPy, then NumPy."""
    if torch_available(cuda=True):
        return TorchProver(f"cuda:{device_index}")
    if cupy_available():
        return CupyProver(device_index)
    return NumpyProver()


def run_batch(
    batch: ChallengeBatch, make_prover: Callable[[int], Prover] = best_prover
) -> list[ProverRun]:
    """Run every challenge of a batch concurrently, challenge ``i`` on device ``device_index``.

    The products release the GIL (torch and CuPy launch kernels; NumPy's BLAS runs unlocked),
    so threads suffice. Results come back in the batch's order; the first failure is raised.
    """
    provers = [make_prover(c.device_index) for c in batch.challenges]
    with ThreadPoolExecutor(max_workers=len(provers), thread_name_prefix="prover") as pool:
        futures = [
            pool.submit(prover.run, challenge)
            for prover, challenge in zip(provers, batch.challenges, strict=True)
        ]
        return [f.result() for f in futures]


def commitments_of(runs: list[ProverRun]) -> list[Commitment]:
    """The commitments to send together for a batch."""
    return [run.commitment for run in runs]
