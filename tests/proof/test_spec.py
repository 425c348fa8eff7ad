"""The protocol's definitions: known answers, exactness of the verifier's product, digests."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from depin.proof import spec
from depin.proof.spec import Pick, ProofParams

SEED = bytes(range(32))


def test_mixer_known_answers() -> None:
    # Pinned values: a change here changes protocol version 1 for every prover.
    assert spec.mix32_int(0) == 0
    assert spec.mix32_int(1) == 0x688990C0
    assert spec.mix32_int(0xFFFFFFFF) == 0x6768824A
    assert spec.mix32_int(12345) == 2435775735
    x = np.array([0, 1, 12345, 0xFFFFFFFF], dtype=np.uint32)
    assert spec.mix32(x).tolist() == [spec.mix32_int(int(v)) for v in x]


def test_seeded_bytes_known_answer() -> None:
    params = ProofParams(rows=8, inner=8, cols=8, rounds=1, samples=1)
    a = spec.a_rows(SEED, params, [3])
    assert a[0].tolist() == [60, 96, -48, 42, 124, 11, 2, 95]
    digest = hashlib.sha256(spec.b_rows(SEED, params, 0, 8).tobytes()).hexdigest()
    assert digest == "2b97ee8d0125985d1b8cd3e9394cf9c6b6086fb2c63d753fe4c2b5a49f2968a0"
    assert spec.salt(SEED, params).tolist()[:3] == [780849694, 561569566, 749461190]
    assert spec.salt(SEED, params).tolist()[4] == -1455506923  # two's-complement reading


def test_keys_are_independent_per_tag_and_seed() -> None:
    keys = {spec.derive_key(s, t) for s in (SEED, SEED[::-1]) for t in (b"A", b"B", b"M", b"S")}
    assert len(keys) == 8


def test_product_rows_equal_the_full_product() -> None:
    params = ProofParams(rows=48, inner=96, cols=40, rounds=3, samples=4)
    picks = [Pick(2, 47), Pick(0, 0), Pick(1, 13), Pick(2, 5)]
    b = spec.b_rows(SEED, params, 0, params.inner).astype(np.int64)
    got = spec.product_rows(SEED, params, picks)
    for pick, row in zip(picks, got, strict=True):
        a_r = spec.round_matrix(SEED, params, pick.round).astype(np.int64)
        assert np.array_equal(row, a_r[pick.row] @ b)


def test_product_rows_exact_at_the_extremes_across_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # All entries -128 over three float32 blocks: the largest sums the verifier can meet.
    params = ProofParams(rows=8, inner=3 * spec.EXACT_F32_BLOCK, cols=8, rounds=1, samples=1)
    monkeypatch.setattr(
        spec, "a_rows", lambda s, p, rows: np.full((len(rows), p.inner), -128, np.int8)
    )
    monkeypatch.setattr(spec, "mask_rows", lambda s, p, r: np.zeros((len(r), p.inner), np.int8))
    monkeypatch.setattr(
        spec, "b_rows", lambda s, p, lo, hi: np.full((hi - lo, p.cols), -128, np.int8)
    )
    got = spec.product_rows(SEED, params, [Pick(0, 0)])
    assert got.tolist() == [[params.inner * 128 * 128] * 8]


def test_digest_is_not_a_linear_sketch() -> None:
    # Linear reductions (C @ v) can be had from A @ (B @ v) in O(n^2); the digest cannot.
    params = ProofParams(rows=32, inner=64, cols=32, rounds=1, samples=1)
    a = spec.round_matrix(SEED, params, 0).astype(np.int64)
    b = spec.b_rows(SEED, params, 0, params.inner).astype(np.int64)
    salt = spec.salt(SEED, params)
    c = (a @ b).astype(np.int32)
    digests = spec.digest_rows(c, salt)
    sketch = a @ (b @ np.ones(params.cols, np.int64))  # equals c.sum(axis=1) exactly
    assert np.array_equal(sketch, c.astype(np.int64).sum(axis=1))
    assert not np.array_equal(digests, sketch)
    # Nonlinear: the digest of a sum of products is not the sum of their digests.
    assert spec.digest_rows(c + c, salt)[0] != 2 * digests[0]


def test_round_hash_binds_challenge_round_and_digests() -> None:
    d = np.arange(8, dtype=np.int64)
    base = spec.round_hash(b"\x01" * 16, 0, d)
    assert spec.round_hash(b"\x02" * 16, 0, d) != base
    assert spec.round_hash(b"\x01" * 16, 1, d) != base
    d2 = d.copy()
    d2[7] += 1
    assert spec.round_hash(b"\x01" * 16, 0, d2) != base


def test_production_parameters() -> None:
    p = spec.PRODUCTION_PARAMS
    assert p.ops == 2 * 16384 * 32768 * 8192 * 140
    # |C| <= inner * 128 * 128 must fit int32.
    assert p.inner * 128 * 128 < 2**31
    # An H100 SXM at 70 % of 1979 TOPS needs about a second.
    assert 0.8 < p.ops / (0.7 * 1979e12) < 1.0
