"""Provers that cheat, each refused with its named reason."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from proof_helpers import TINY, MakeOracle, honest_run, new_oracle

from agent.prover import NumpyProver, ProverRun, commitment_for
from depin.proof import (
    CommitmentMismatchError,
    DigestMismatchError,
    Opening,
    ProofError,
    ProofParams,
    RevealResponse,
    RoundDigests,
    RowMismatchError,
    spec,
)
from depin.proof.spec import digest_rows

Digests = Callable[[NDArray[np.int8], NDArray[np.float64], NDArray[np.int32]], NDArray[np.int64]]


class CheatingProver(NumpyProver):
    """The NumPy prover, but each round's digests are ``cheat(a_r, b, column_salt)``."""

    def __init__(self, cheat: Digests) -> None:
        self._cheat = cheat

    def round_digests(
        self,
        round_index: int,
        a_r: NDArray[np.int8],
        b: NDArray[np.float64],
        column_salt: NDArray[np.int32],
    ) -> NDArray[np.int64]:
        return self._cheat(a_r, b, column_salt)


def half_rows_prover() -> CheatingProver:
    """Computes only the even rows of each product and makes up the odd rows' digests."""
    rng = np.random.default_rng(7)

    def cheat(
        a_r: NDArray[np.int8], b: NDArray[np.float64], column_salt: NDArray[np.int32]
    ) -> NDArray[np.int64]:
        digests = rng.integers(-(2**40), 2**40, size=a_r.shape[0], dtype=np.int64)
        half = (a_r[::2].astype(np.float64) @ b).astype(np.int32)
        digests[::2] = digest_rows(half, column_salt)
        return digests

    return CheatingProver(cheat)


def linear_shortcut(
    a_r: NDArray[np.int8], b: NDArray[np.float64], column_salt: NDArray[np.int32]
) -> NDArray[np.int64]:
    """Never forms the product: digests from the sketch A_r @ (B @ 1) plus the salt's sum.

    That is what the digest would be if XOR were addition; it costs O(n^2) per round.
    """
    sketch = a_r.astype(np.float64) @ (b @ np.ones(b.shape[1]))
    return sketch.astype(np.int64) + int(column_salt.astype(np.int64).sum())


def _exchange(o: object, params: ProofParams, prover: NumpyProver) -> None:
    from proof_helpers import Oracle

    assert isinstance(o, Oracle)
    batch = o.issuer.issue(model_id="cpu", params=params, peak_tops=1e-6)
    run = prover.run(batch.challenges[0])
    request = o.verifier.accept_commitment(run.commitment)
    o.verifier.verify(run.reveal(request))


def test_skipping_half_the_rows_passes_no_more_often_than_f_to_the_k() -> None:
    params = ProofParams(rows=32, inner=64, cols=32, rounds=4, samples=2)
    trials, passed = 200, 0
    for trial in range(trials):
        try:
            _exchange(new_oracle(seed=trial), params, half_rows_prover())
            passed += 1
        except DigestMismatchError as exc:
            assert exc.code == "digest_mismatch"
            assert exc.row % 2 == 1  # only the skipped rows are caught
    bound = 0.5**params.samples  # f^k; drawing without replacement is slightly below it
    sigma = math.sqrt(trials * bound * (1 - bound))
    assert passed <= trials * bound + 4 * sigma
    assert passed > 0  # the honest half does pass when only it is sampled


def test_skipping_half_the_rows_never_passes_at_thirty_two_samples() -> None:
    params = ProofParams(rows=32, inner=64, cols=32, rounds=4, samples=32)
    for trial in range(20):
        with pytest.raises(DigestMismatchError):
            _exchange(new_oracle(seed=trial), params, half_rows_prover())


def test_linear_shortcut_digests_are_caught(make_oracle: MakeOracle) -> None:
    for trial in range(10):
        with pytest.raises(DigestMismatchError) as err:
            _exchange(make_oracle(seed=trial), TINY, CheatingProver(linear_shortcut))
        assert err.value.code == "digest_mismatch"


def _honest(o: MakeOracle) -> tuple[object, ProverRun, RevealResponse]:
    oracle = o()
    _, run = honest_run(oracle, peak_tops=1e-6)
    request = oracle.verifier.accept_commitment(run.commitment)
    return oracle, run, run.reveal(request)


def _with_row(response: RevealResponse, index: int, values: NDArray[np.int32]) -> RevealResponse:
    openings = list(response.openings)
    o = openings[index]
    openings[index] = Opening(
        round=o.round, row=o.row, values=base64.b64encode(values.astype("<i4").tobytes()).decode()
    )
    return response.model_copy(update={"openings": tuple(openings)})


def _row(response: RevealResponse, index: int) -> NDArray[np.int32]:
    return np.frombuffer(base64.b64decode(response.openings[index].values), "<i4").copy()


def test_row_inconsistent_with_commitment_is_a_digest_mismatch(make_oracle: MakeOracle) -> None:
    oracle, _, response = _honest(make_oracle)
    row = _row(response, 1)
    row[3] += 1
    with pytest.raises(DigestMismatchError) as err:
        oracle.verifier.verify(_with_row(response, 1, row))  # type: ignore[attr-defined]
    assert err.value.code == "digest_mismatch"
    assert (err.value.round_index, err.value.row) == (
        response.openings[1].round,
        response.openings[1].row,
    )


def test_digests_inconsistent_with_commitment(make_oracle: MakeOracle) -> None:
    oracle, run, response = _honest(make_oracle)
    entry = response.rounds[0]
    digests = run.digests[entry.round].copy()
    digests[0] ^= 1
    forged = RoundDigests(
        round=entry.round, digests=base64.b64encode(digests.astype("<i8").tobytes()).decode()
    )
    bad = response.model_copy(update={"rounds": (forged, *response.rounds[1:])})
    with pytest.raises(CommitmentMismatchError) as err:
        oracle.verifier.verify(bad)  # type: ignore[attr-defined]
    assert err.value.code == "commitment_mismatch"
    assert err.value.round_index == entry.round


def test_consistent_but_wrong_product_is_a_row_mismatch(make_oracle: MakeOracle) -> None:
    """Digests and rows agree with each other, but not with the seeded matrices."""

    def free_product(
        a_r: NDArray[np.int8], b: NDArray[np.float64], column_salt: NDArray[np.int32]
    ) -> NDArray[np.int64]:
        return digest_rows((a_r.astype(np.float64) @ (b * 0)).astype(np.int32), column_salt)

    class WrongMatrixProver(CheatingProver):
        def rows(self, challenge, picks):  # type: ignore[no-untyped-def]
            return np.zeros((len(picks), challenge.params.cols), np.int32)

    oracle = make_oracle()
    with pytest.raises(RowMismatchError) as err:
        _exchange(oracle, TINY, WrongMatrixProver(free_product))
    assert err.value.code == "row_mismatch"


def test_work_replayed_from_an_earlier_challenge(make_oracle: MakeOracle) -> None:
    """Last challenge's products, digested with the new salt and committed under the new id."""
    oracle = make_oracle()
    issue = oracle.issuer.issue
    old = issue(model_id="cpu", params=TINY, peak_tops=1e-6).challenges[0]
    new = issue(model_id="cpu", params=TINY, peak_tops=1e-6).challenges[0]
    b = spec.b_rows(old.seed_bytes, TINY, 0, TINY.inner)
    products = [
        spec.round_product(spec.round_matrix(old.seed_bytes, TINY, r), b)
        for r in range(TINY.rounds)
    ]
    new_salt = spec.salt(new.seed_bytes, TINY)
    digests = np.stack([digest_rows(c, new_salt) for c in products])
    forged = ProverRun(
        challenge=new,
        digests=digests,
        commitment=commitment_for(new, digests, "numpy"),
        elapsed_s=0.0,
        row_source=lambda picks: np.stack([products[p.round][p.row] for p in picks]),
    )
    request = oracle.verifier.accept_commitment(forged.commitment)
    with pytest.raises(RowMismatchError) as err:
        oracle.verifier.verify(forged.reveal(request))
    assert err.value.code == "row_mismatch"


def test_commitment_replayed_from_an_earlier_challenge(make_oracle: MakeOracle) -> None:
    """Last challenge's commitment sent verbatim: its hashes are bound to the old id."""
    oracle = make_oracle()
    _, old = honest_run(oracle, peak_tops=1e-6)
    new = oracle.issuer.issue(model_id="cpu", params=TINY, peak_tops=1e-6).challenges[0]
    replayed = old.commitment.model_copy(update={"challenge_id": new.challenge_id})
    request = oracle.verifier.accept_commitment(replayed)
    forged = ProverRun(new, old.digests, replayed, 0.0, old.row_source)
    with pytest.raises(ProofError) as err:
        oracle.verifier.verify(forged.reveal(request))
    assert err.value.code == "commitment_mismatch"
