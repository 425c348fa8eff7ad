"""The CPU prover: the reference implementation, at CPU-sized parameters."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from agent.prover._base import ProverRun, commitment_for
from depin.proof.messages import Challenge
from depin.proof.spec import (
    Pick,
    a_rows,
    b_rows,
    digest_rows,
    mask_rows,
    product_rows,
    salt,
)

__all__ = ["NumpyProver"]


class NumpyProver:
    """Computes each round with exact float64 BLAS on the CPU."""

    name = "numpy"

    def round_digests(
        self,
        round_index: int,
        a_r: NDArray[np.int8],
        b: NDArray[np.float64],
        column_salt: NDArray[np.int32],
    ) -> NDArray[np.int64]:
        """One round: the product's row digests."""
        c = (a_r.astype(np.float64) @ b).astype(np.int32)
        return digest_rows(c, column_salt)

    def rows(self, challenge: Challenge, picks: Sequence[Pick]) -> NDArray[np.int32]:
        """Product rows for the reveal."""
        return product_rows(challenge.seed_bytes, challenge.params, picks)

    def run(self, challenge: Challenge) -> ProverRun:
        start = time.perf_counter()
        seed, p = challenge.seed_bytes, challenge.params
        a = a_rows(seed, p, np.arange(p.rows))
        b = b_rows(seed, p, 0, p.inner).astype(np.float64)
        masks = mask_rows(seed, p, np.arange(p.rounds))
        column_salt = salt(seed, p)
        digests = np.empty((p.rounds, p.rows), dtype=np.int64)
        for r in range(p.rounds):
            digests[r] = self.round_digests(r, np.bitwise_xor(a, masks[r]), b, column_salt)
        commitment = commitment_for(challenge, digests, self.name)
        return ProverRun(
            challenge=challenge,
            digests=digests,
            commitment=commitment,
            elapsed_s=time.perf_counter() - start,
            row_source=lambda picks: self.rows(challenge, picks),
        )
