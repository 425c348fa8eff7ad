"""Proof of compute, protocol version 1: parameters, seeded matrices, digests, commitments.

Everything the prover and the verifier must agree on bit for bit is defined here, once, in
NumPy. Provers on other array libraries (torch, CuPy) re-implement :func:`mix32` and the
layout below and are tested to produce identical bytes. The protocol is written out in
``docs/proof-of-compute.md``.

For a challenge with seed ``s`` and parameters ``(rows, inner, cols, rounds, samples)``:

* ``A``  is ``rows x inner`` int8, ``B`` is ``inner x cols`` int8, ``M`` (round masks) is
  ``rounds x inner`` int8, all from :func:`int8_rows` with keys derived from ``s``;
* round ``r`` multiplies ``A_r = A XOR M[r]`` (bitwise, the mask broadcast over rows) by ``B``
  with exact int32 accumulation: ``C_r = A_r @ B``;
* each row reduces to ``digest = sum_l (C_r[i, l] XOR salt[l])`` as an exact int64, where
  ``salt`` is ``cols`` int32 words from the seed. XOR makes the digest nonlinear in the
  entries, so no linear sketch such as ``A_r @ (B @ v)`` yields it;
* the commitment for round ``r`` is ``sha256(DOMAIN/round/ || id || r || digests)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CPU_PARAMS",
    "DOMAIN",
    "EXACT_F32_BLOCK",
    "GOLDEN",
    "MIX_M1",
    "MIX_M2",
    "PRODUCTION_PARAMS",
    "TAG_A",
    "TAG_B",
    "TAG_MASK",
    "TAG_SALT",
    "VERSION",
    "Key",
    "Pick",
    "ProofParams",
    "a_rows",
    "b_rows",
    "derive_key",
    "digest_rows",
    "int8_from_words",
    "int8_rows",
    "mask_rows",
    "mix32",
    "mix32_int",
    "product_rows",
    "round_hash",
    "round_matrix",
    "round_product",
    "salt",
    "words",
]

VERSION = "depin-poc/1"
DOMAIN = VERSION.encode()

#: Constants of the 32-bit mixer (Wellons' "lowbias32") and the column stride (2^32 / phi).
MIX_M1 = 0x7FEB352D
MIX_M2 = 0x846CA68B
GOLDEN = 0x9E3779B9
MASK32 = 0xFFFFFFFF

#: Key tags: one independent key per seeded array.
TAG_A = b"A"
TAG_B = b"B"
TAG_MASK = b"M"
TAG_SALT = b"S"

#: Inner-dimension block for exact float32 products: |partial sum| <= 1024 * 128 * 128 = 2^24.
EXACT_F32_BLOCK = 1024

_U32 = np.uint32

Indices = Sequence[int] | NDArray[np.integer[Any]]


class ProofParams(BaseModel):
    """The size of one challenge.

    Attributes:
        rows: rows of ``A`` and of each product (one digest per row and round).
        inner: the contracted dimension.
        cols: columns of ``B`` and of each product.
        rounds: products per challenge; each uses its own mask of ``A``.
        samples: ``(round, row)`` pairs the oracle opens after the commitments.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = Field(ge=8, le=1 << 20)
    inner: int = Field(ge=8, le=1 << 16)  # keeps |C| <= inner * 2^14 within int32
    cols: int = Field(ge=8, le=1 << 20)
    rounds: int = Field(ge=1, le=100_000)
    samples: int = Field(ge=1, le=1024)

    @model_validator(mode="after")
    def _shape(self) -> ProofParams:
        for name in ("rows", "inner", "cols"):
            if getattr(self, name) % 8:
                raise ValueError(f"{name} must be a multiple of 8")
        if self.samples > self.rounds * self.rows:
            raise ValueError("samples exceed the number of (round, row) pairs")
        return self

    @property
    def ops_per_round(self) -> int:
        """Integer operations of one product (a multiply and an add per term)."""
        return 2 * self.rows * self.inner * self.cols

    @property
    def ops(self) -> int:
        """Integer operations of the whole challenge: ``2 * rows * inner * cols * rounds``."""
        return self.ops_per_round * self.rounds


#: Sized so that an H100 SXM (1979 dense int8 TOPS) needs about a second: 1.23e15 operations.
PRODUCTION_PARAMS = ProofParams(rows=16384, inner=32768, cols=8192, rounds=140, samples=64)
#: Sized for the NumPy prover on a CPU: a few tens of milliseconds.
CPU_PARAMS = ProofParams(rows=256, inner=512, cols=256, rounds=8, samples=16)


class Pick(NamedTuple):
    """One ``(round, row)`` pair the oracle opens."""

    round: int
    row: int


class Key(NamedTuple):
    """A 64-bit key for one seeded array, as two 32-bit words."""

    k0: int
    k1: int


def derive_key(seed: bytes, tag: bytes) -> Key:
    """The key of the array named ``tag`` for a challenge seed."""
    h = hashlib.sha256(DOMAIN + b"/key/" + tag + b"/" + seed).digest()
    return Key(int.from_bytes(h[0:4], "little"), int.from_bytes(h[4:8], "little"))


def mix32_int(x: int) -> int:
    """Reference mixer on one Python int (lowbias32): a bijection of 32-bit words."""
    x &= MASK32
    x ^= x >> 16
    x = (x * MIX_M1) & MASK32
    x ^= x >> 15
    x = (x * MIX_M2) & MASK32
    x ^= x >> 16
    return x


def mix32(x: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """The mixer on a uint32 array (arithmetic mod 2^32), returned as a new array."""
    y = x.astype(_U32, copy=True)
    y ^= y >> _U32(16)
    y *= _U32(MIX_M1)
    y ^= y >> _U32(15)
    y *= _U32(MIX_M2)
    y ^= y >> _U32(16)
    return y


def words(key: Key, row_indices: Indices, nwords: int) -> NDArray[np.uint32]:
    """Seeded 32-bit words: ``w[i, q] = mix32(((mix32(i ^ k0) + q * GOLDEN) mod 2^32) ^ k1)``.

    Args:
        key: the array's key.
        row_indices: which rows to generate (each below 2^32).
        nwords: words per row.

    Returns:
        A ``len(row_indices) x nwords`` uint32 array.
    """
    rows = np.asarray(row_indices, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() > MASK32):
        raise ValueError("row indices must lie in [0, 2^32)")
    rho = mix32(rows.astype(_U32) ^ _U32(key.k0))
    stride = np.arange(nwords, dtype=_U32) * _U32(GOLDEN)
    w = rho[:, None] + stride[None, :]
    w ^= _U32(key.k1)
    return mix32(w)


def int8_from_words(w: NDArray[np.uint32]) -> NDArray[np.int8]:
    """Little-endian bytes of words, offset to int8: ``X[i, 4q + b] = byte_b(w[i, q]) - 128``."""
    b = np.ascontiguousarray(w, dtype="<u4").view(np.uint8).reshape(w.shape[0], 4 * w.shape[1])
    return (b ^ np.uint8(0x80)).view(np.int8)


def int8_rows(key: Key, row_indices: Indices, ncols: int) -> NDArray[np.int8]:
    """Rows of a seeded int8 matrix with ``ncols`` columns (a multiple of 4)."""
    if ncols % 4:
        raise ValueError("ncols must be a multiple of 4")
    return int8_from_words(words(key, row_indices, ncols // 4))


def a_rows(seed: bytes, params: ProofParams, rows: Indices) -> NDArray[np.int8]:
    """Rows of ``A`` (``len(rows) x inner``)."""
    return int8_rows(derive_key(seed, TAG_A), rows, params.inner)


def b_rows(seed: bytes, params: ProofParams, start: int, stop: int) -> NDArray[np.int8]:
    """Rows ``start:stop`` of ``B`` (``(stop - start) x cols``)."""
    return int8_rows(derive_key(seed, TAG_B), np.arange(start, stop), params.cols)


def mask_rows(seed: bytes, params: ProofParams, rounds: Indices) -> NDArray[np.int8]:
    """The masks of the given rounds (``len(rounds) x inner``)."""
    return int8_rows(derive_key(seed, TAG_MASK), rounds, params.inner)


def salt(seed: bytes, params: ProofParams) -> NDArray[np.int32]:
    """The per-column int32 salt of the digest (the words' two's-complement reading)."""
    w = words(derive_key(seed, TAG_SALT), [0], params.cols)
    return np.ascontiguousarray(w, dtype="<u4").view("<i4").reshape(params.cols).astype(np.int32)


def round_matrix(seed: bytes, params: ProofParams, round_index: int) -> NDArray[np.int8]:
    """The whole ``A_r = A XOR M[r]`` (for provers and tests; the oracle never builds it)."""
    a = a_rows(seed, params, np.arange(params.rows))
    return np.bitwise_xor(a, mask_rows(seed, params, [round_index]))


def round_product(a_r: NDArray[np.int8], b: NDArray[np.int8]) -> NDArray[np.int32]:
    """Exact ``a_r @ b`` in int32 through float64 BLAS (exact while ``inner < 2^39``)."""
    c = a_r.astype(np.float64) @ b.astype(np.float64)
    return c.astype(np.int32)


def digest_rows(c: NDArray[np.int32], column_salt: NDArray[np.int32]) -> NDArray[np.int64]:
    """Row digests: ``sum_l (c[i, l] XOR salt[l])``, exact in int64."""
    out: NDArray[np.int64] = np.bitwise_xor(c, column_salt[None, :]).sum(axis=1, dtype=np.int64)
    return out


def round_hash(challenge_id: bytes, round_index: int, digests: NDArray[np.int64]) -> bytes:
    """The commitment to one round's digest vector."""
    h = hashlib.sha256()
    h.update(DOMAIN + b"/round/")
    h.update(challenge_id)
    h.update(round_index.to_bytes(4, "little"))
    h.update(np.ascontiguousarray(digests, dtype="<i8").tobytes())
    return h.digest()


def product_rows(seed: bytes, params: ProofParams, picks: Iterable[Pick]) -> NDArray[np.int32]:
    """The picked rows of the picked rounds' products, computed without building ``A``.

    This is the verifier's recomputation: ``B`` is generated once, a block of
    :data:`EXACT_F32_BLOCK` rows at a time, and multiplied by all picked rows of ``A_r`` in
    float32 (exact per block), accumulating in int64. Cost: ``inner * cols`` generated bytes
    plus ``2 * len(picks) * inner * cols`` flops, whatever the round count.

    Returns:
        A ``len(picks) x cols`` int32 array, in the order of ``picks``.
    """
    picks = list(picks)
    if not picks:
        return np.zeros((0, params.cols), dtype=np.int32)
    a = a_rows(seed, params, [p.row for p in picks])
    masks = mask_rows(seed, params, [p.round for p in picks])
    lhs = np.bitwise_xor(a, masks).astype(np.float32)
    acc = np.zeros((len(picks), params.cols), dtype=np.int64)
    for start in range(0, params.inner, EXACT_F32_BLOCK):
        stop = min(start + EXACT_F32_BLOCK, params.inner)
        block = b_rows(seed, params, start, stop).astype(np.float32)
        acc += (lhs[:, start:stop] @ block).astype(np.int64)
    return acc.astype(np.int32)
