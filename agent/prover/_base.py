"""What every prover shares: the run's state between commitment and reveal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from depin.proof.messages import (
    Challenge,
    Commitment,
    Opening,
    RevealRequest,
    RevealResponse,
    RoundDigests,
    encode_array,
)
from depin.proof.spec import Pick, round_hash

__all__ = ["Prover", "ProverRun", "commitment_for"]

RowSource = Callable[[Sequence[Pick]], NDArray[np.int32]]


def commitment_for(challenge: Challenge, digests: NDArray[np.int64], backend: str) -> Commitment:
    """Hash each round's digest vector into the commitment."""
    return Commitment(
        challenge_id=challenge.challenge_id,
        round_hashes=tuple(
            round_hash(challenge.id_bytes, r, digests[r]).hex() for r in range(len(digests))
        ),
        backend=backend,
    )


@dataclass
class ProverRun:
    """One finished challenge: the commitment to send, and what answers the reveal.

    Attributes:
        challenge: the challenge that was run.
        digests: ``rounds x rows`` int64 row digests.
        commitment: what to send before the deadline.
        elapsed_s: the prover's own time from start to commitment (the oracle measures its own).
        row_source: recomputes product rows for the reveal.
    """

    challenge: Challenge
    digests: NDArray[np.int64]
    commitment: Commitment
    elapsed_s: float
    row_source: RowSource

    def reveal(self, request: RevealRequest) -> RevealResponse:
        """Open the requested rows and the digest vectors of their rounds."""
        if request.challenge_id != self.challenge.challenge_id:
            raise ValueError("the reveal request is for another challenge")
        picks = request.pick_list()
        rows = self.row_source(picks)
        return RevealResponse(
            challenge_id=self.challenge.challenge_id,
            openings=tuple(
                Opening(round=p.round, row=p.row, values=encode_array(row, "<i4"))
                for p, row in zip(picks, rows, strict=True)
            ),
            rounds=tuple(
                RoundDigests(round=r, digests=encode_array(self.digests[r], "<i8"))
                for r in sorted({p.round for p in picks})
            ),
        )


class Prover(Protocol):
    """Runs challenges on one device."""

    @property
    def name(self) -> str:
        """The backend, e.g. ``numpy`` or ``torch:cuda:0``."""

    def run(self, challenge: Challenge) -> ProverRun:
        """Compute every round and commit."""
