"""Proof-of-compute provers: torch (CUDA, or CPU for tests), CuPy, and NumPy for CPU hosts.

GPU libraries are imported only when a prover for them is built.
"""

from agent.prover._base import Prover, ProverRun, commitment_for
from agent.prover.cupy_prover import CupyProver, cupy_available
from agent.prover.multi import best_prover, commitments_of, run_batch
from agent.prover.numpy_prover import NumpyProver
from agent.prover.torch_prover import TorchProver, torch_available

__all__ = [
    "CupyProver",
    "NumpyProver",
    "Prover",
    "ProverRun",
    "TorchProver",
    "best_prover",
    "commitment_for",
    "commitments_of",
    "cupy_available",
    "run_batch",
    "torch_available",
]
