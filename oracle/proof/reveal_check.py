"""The oracle's check of one revealed proof: hashes, digests, then rows recomputed on the CPU."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from depin.proof.errors import (
    CommitmentMismatchError,
    DigestMismatchError,
    MalformedRevealError,
    RowMismatchError,
)
from depin.proof.messages import Challenge, Commitment, RevealResponse, decode_array
from depin.proof.spec import Pick, digest_rows, product_rows, round_hash, salt

__all__ = ["verify_reveal"]


def _decode(
    challenge: Challenge, picks: Sequence[Pick], response: RevealResponse
) -> tuple[dict[Pick, NDArray[np.int64]], dict[int, NDArray[np.int64]]]:
    cid = challenge.challenge_id
    params = challenge.params
    if response.challenge_id != cid:
        raise MalformedRevealError(cid, f"response is for challenge {response.challenge_id}")
    rows: dict[Pick, NDArray[np.int64]] = {}
    for opening in response.openings:
        pick = Pick(opening.round, opening.row)
        if pick in rows:
            raise MalformedRevealError(cid, f"row {pick.row} of round {pick.round} sent twice")
        try:
            rows[pick] = decode_array(opening.values, "<i4", params.cols)
        except ValueError as exc:
            raise MalformedRevealError(cid, f"row {pick.row} of round {pick.round}: {exc}") from exc
    if set(rows) != set(picks):
        raise MalformedRevealError(cid, "the opened rows are not the requested ones")
    digests: dict[int, NDArray[np.int64]] = {}
    for entry in response.rounds:
        if entry.round in digests:
            raise MalformedRevealError(cid, f"digests of round {entry.round} sent twice")
        try:
            digests[entry.round] = decode_array(entry.digests, "<i8", params.rows)
        except ValueError as exc:
            raise MalformedRevealError(cid, f"digests of round {entry.round}: {exc}") from exc
    if set(digests) != {p.round for p in picks}:
        raise MalformedRevealError(cid, "the digest vectors are not those of the opened rounds")
    return rows, digests


def verify_reveal(
    challenge: Challenge,
    commitment: Commitment,
    picks: Sequence[Pick],
    response: RevealResponse,
) -> None:
    """Check a reveal against its commitment and the seeded product; raise on the first fault.

    Order: the shape of the answer, each opened round's digest vector against its committed
    hash, each opened row against its digest, then each row against ``A_r[row] @ B``
    recomputed here. Cost is dominated by generating ``B`` once and one
    ``len(picks) x inner x cols`` product (see :func:`depin.proof.spec.product_rows`).

    Raises:
        MalformedRevealError, CommitmentMismatchError, DigestMismatchError, RowMismatchError.
    """
    cid = challenge.challenge_id
    params = challenge.params
    if len(commitment.round_hashes) != params.rounds:
        raise MalformedRevealError(cid, "commitment does not have one hash per round")
    rows, digests = _decode(challenge, picks, response)
    for r in sorted(digests):
        expected = bytes.fromhex(commitment.round_hashes[r])
        if round_hash(challenge.id_bytes, r, digests[r]) != expected:
            raise CommitmentMismatchError(cid, r)
    column_salt = salt(challenge.seed_bytes, params)
    ordered = list(picks)
    revealed = np.stack([rows[p] for p in ordered]).astype(np.int32)
    row_digests = digest_rows(revealed, column_salt)
    for p, d in zip(ordered, row_digests, strict=True):
        if d != digests[p.round][p.row]:
            raise DigestMismatchError(cid, p.round, p.row)
    recomputed = product_rows(challenge.seed_bytes, params, ordered)
    for p, got, want in zip(ordered, revealed, recomputed, strict=True):
        if not np.array_equal(got, want):
            raise RowMismatchError(cid, p.round, p.row)
