"""A GPU prover for hosts that have CuPy but not torch.

CuPy has no int8 x int8 -> int32 product, so each round is computed as float32 products over
inner blocks of :data:`~depin.proof.spec.EXACT_F32_BLOCK` (each exact, since every partial
sum stays within 2^24), summed in int32. That runs on the FP32 units, not the int8 tensor
cores, so it proves much less than the int8 peak: it keeps such hosts in the protocol, not at
their best figure. TF32 must stay off (CuPy's default; do not set ``CUPY_TF32=1``).
The matrices are generated on the host by the reference NumPy code and copied over.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agent.prover._base import ProverRun, commitment_for
from depin.proof.messages import Challenge
from depin.proof.spec import (
    EXACT_F32_BLOCK,
    Pick,
    a_rows,
    b_rows,
    mask_rows,
    product_rows,
    salt,
)

__all__ = ["CupyProver", "cupy_available"]


def _cupy() -> Any:
    import cupy

    return cupy


def cupy_available() -> bool:
    """Whether CuPy imports and sees a device."""
    try:
        cp = _cupy()
        return bool(cp.cuda.runtime.getDeviceCount() > 0)
    except Exception:
        return False


class CupyProver:
    """Runs a challenge on one CUDA device through CuPy."""

    def __init__(self, device_index: int = 0) -> None:
        self._cp = _cupy()
        self.device_index = device_index

    @property
    def name(self) -> str:
        return f"cupy:cuda:{self.device_index}"

    def rows(self, challenge: Challenge, picks: Sequence[Pick]) -> NDArray[np.int32]:
        return product_rows(challenge.seed_bytes, challenge.params, picks)

    def run(self, challenge: Challenge) -> ProverRun:
        cp = self._cp
        start = time.perf_counter()
        seed, p = challenge.seed_bytes, challenge.params
        with cp.cuda.Device(self.device_index):
            a = cp.asarray(a_rows(seed, p, np.arange(p.rows)))
            b = cp.asarray(b_rows(seed, p, 0, p.inner)).astype(cp.float32)
            masks = cp.asarray(mask_rows(seed, p, np.arange(p.rounds)))
            column_salt = cp.asarray(salt(seed, p))
            digests = cp.empty((p.rounds, p.rows), dtype=cp.int64)
            for r in range(p.rounds):
                a_r = cp.bitwise_xor(a, masks[r]).astype(cp.float32)
                c = cp.zeros((p.rows, p.cols), dtype=cp.int32)
                for lo in range(0, p.inner, EXACT_F32_BLOCK):
                    hi = min(lo + EXACT_F32_BLOCK, p.inner)
                    c += (a_r[:, lo:hi] @ b[lo:hi]).astype(cp.int32)
                digests[r] = cp.bitwise_xor(c, column_salt[None, :]).sum(axis=1, dtype=cp.int64)
            host = np.asarray(cp.asnumpy(digests), dtype=np.int64)
        return ProverRun(
            challenge=challenge,
            digests=host,
            commitment=commitment_for(challenge, host, self.name),
            elapsed_s=time.perf_counter() - start,
            row_source=lambda picks: self.rows(challenge, picks),
        )
