"""The GPU prover on torch: int8 x int8 -> int32 products with ``torch._int_mm``.

torch is imported when a prover is built, never at module import. The mixer runs on int64
tensors holding values in ``[0, 2^32)``, with every 32-bit multiplication split into 16-bit
halves so that no intermediate exceeds 2^49: the result never depends on how a backend treats
signed overflow, and CPU torch reproduces the CUDA bytes (and NumPy's) exactly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from agent.prover._base import ProverRun, commitment_for
from depin.proof.messages import Challenge
from depin.proof.spec import (
    GOLDEN,
    MASK32,
    MIX_M1,
    MIX_M2,
    TAG_A,
    TAG_B,
    TAG_MASK,
    TAG_SALT,
    Key,
    Pick,
    ProofParams,
    derive_key,
)

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["TorchProver", "torch_available"]

#: Words generated per chunk, to bound the int64 temporaries (8 bytes x a few per word).
_CHUNK_WORDS = 1 << 24


def _torch() -> Any:
    import torch

    return torch


def torch_available(cuda: bool = False) -> bool:
    """Whether torch (and, if asked, a CUDA device) can be used."""
    try:
        torch = _torch()
    except ImportError:
        return False
    return bool(torch.cuda.is_available()) if cuda else True


def _mulmod32(x: Tensor, c: int) -> Tensor:
    lo, hi = c & 0xFFFF, c >> 16
    out: Tensor = (x * lo + (((x * hi) & 0xFFFF) << 16)) & MASK32
    return out


def mix32_t(x: Tensor) -> Tensor:
    """The spec's mixer on an int64 tensor of 32-bit words."""
    x = x ^ (x >> 16)
    x = _mulmod32(x, MIX_M1)
    x = x ^ (x >> 15)
    x = _mulmod32(x, MIX_M2)
    out: Tensor = x ^ (x >> 16)
    return out


def words_t(key: Key, rows: Tensor, nwords: int) -> Tensor:
    """The spec's seeded words (int64 holding uint32) for the given rows."""
    torch = _torch()
    rho = mix32_t(rows.to(torch.int64) ^ key.k0)
    stride = (torch.arange(nwords, dtype=torch.int64, device=rows.device) * GOLDEN) & MASK32
    w = ((rho[:, None] + stride[None, :]) & MASK32) ^ key.k1
    return mix32_t(w)


def int8_rows_t(key: Key, start: int, stop: int, ncols: int, device: Any) -> Tensor:
    """Rows ``start:stop`` of a seeded int8 matrix, generated on ``device`` in chunks."""
    torch = _torch()
    nwords = ncols // 4
    out: Tensor = torch.empty((stop - start, ncols), dtype=torch.int8, device=device)
    step = max(1, _CHUNK_WORDS // max(nwords, 1))
    shifts = torch.tensor([0, 8, 16, 24], dtype=torch.int64, device=device)
    for lo in range(start, stop, step):
        hi = min(lo + step, stop)
        rows = torch.arange(lo, hi, dtype=torch.int64, device=device)
        w = words_t(key, rows, nwords)
        b = ((w[:, :, None] >> shifts) & 0xFF) - 128
        out[lo - start : hi - start] = b.reshape(hi - lo, ncols).to(torch.int8)
    return out


def int8_pick_rows_t(key: Key, rows: Sequence[int], ncols: int, device: Any) -> Tensor:
    """Chosen rows of a seeded int8 matrix."""
    torch = _torch()
    idx = torch.tensor(list(rows), dtype=torch.int64, device=device)
    w = words_t(key, idx, ncols // 4)
    shifts = torch.tensor([0, 8, 16, 24], dtype=torch.int64, device=device)
    b = ((w[:, :, None] >> shifts) & 0xFF) - 128
    picked: Tensor = b.reshape(len(rows), ncols).to(torch.int8)
    return picked


class _Seeded:
    """A challenge's arrays on one device."""

    def __init__(self, seed: bytes, params: ProofParams, device: Any) -> None:
        torch = _torch()
        self.params = params
        self.device = device
        self.key_a = derive_key(seed, TAG_A)
        self.key_mask = derive_key(seed, TAG_MASK)
        self.a = int8_rows_t(self.key_a, 0, params.rows, params.inner, device)
        # B column-major (the layout cuBLASLt's int8 kernels want): generate, then transpose.
        b = int8_rows_t(derive_key(seed, TAG_B), 0, params.inner, params.cols, device)
        self.b = b.t().contiguous().t()
        del b
        self.masks = int8_rows_t(self.key_mask, 0, params.rounds, params.inner, device)
        w = words_t(
            derive_key(seed, TAG_SALT),
            torch.zeros(1, dtype=torch.int64, device=device),
            params.cols,
        )[0]
        self.salt = torch.where(w >= 1 << 31, w - (1 << 32), w).to(torch.int32)


class TorchProver:
    """Runs a challenge on one torch device (``cuda:N``, or ``cpu`` for tests)."""

    def __init__(self, device: str = "cuda:0") -> None:
        torch = _torch()
        self.device = torch.device(device)
        self._torch = torch

    @property
    def name(self) -> str:
        return f"torch:{self.device}"

    def _int_mm(self, a: Tensor, b: Tensor, out: Tensor | None = None) -> Any:
        torch = self._torch
        if out is None:
            return torch._int_mm(a, b)
        return torch._int_mm(a, b, out=out)

    def seeded(self, challenge: Challenge) -> _Seeded:
        """The challenge's matrices on this device."""
        return _Seeded(challenge.seed_bytes, challenge.params, self.device)

    def products(self, challenge: Challenge, round_index: int) -> NDArray[np.int32]:
        """A whole round's product (for tests at small sizes)."""
        s = self.seeded(challenge)
        a_r = self._torch.bitwise_xor(s.a, s.masks[round_index])
        return np.asarray(self._int_mm(a_r, s.b).cpu().numpy(), dtype=np.int32)

    def rows(self, s: _Seeded, picks: Sequence[Pick]) -> NDArray[np.int32]:
        """Product rows for the reveal, computed on the device (padded to _int_mm's minimum)."""
        torch = self._torch
        lhs = torch.bitwise_xor(
            int8_pick_rows_t(s.key_a, [p.row for p in picks], s.params.inner, self.device),
            int8_pick_rows_t(s.key_mask, [p.round for p in picks], s.params.inner, self.device),
        )
        padded = max(24, -(-len(picks) // 8) * 8)
        full = torch.zeros((padded, s.params.inner), dtype=torch.int8, device=self.device)
        full[: len(picks)] = lhs
        c = self._int_mm(full, s.b)[: len(picks)]
        return np.asarray(c.cpu().numpy(), dtype=np.int32)

    def run(self, challenge: Challenge) -> ProverRun:
        torch = self._torch
        start = time.perf_counter()
        cuda = self.device.type == "cuda"
        ctx = torch.cuda.device(self.device) if cuda else torch.no_grad()
        with ctx, torch.no_grad():
            s = self.seeded(challenge)
            p = challenge.params
            a_r = torch.empty_like(s.a)
            c = torch.empty((p.rows, p.cols), dtype=torch.int32, device=self.device)
            digests = torch.empty((p.rounds, p.rows), dtype=torch.int64, device=self.device)
            for r in range(p.rounds):
                torch.bitwise_xor(s.a, s.masks[r], out=a_r)
                self._int_mm(a_r, s.b, out=c)
                c.bitwise_xor_(s.salt)
                torch.sum(c, dim=1, dtype=torch.int64, out=digests[r])
            host = np.asarray(digests.cpu().numpy(), dtype=np.int64)
        commitment = commitment_for(challenge, host, self.name)
        elapsed = time.perf_counter() - start
        return ProverRun(
            challenge=challenge,
            digests=host,
            commitment=commitment,
            elapsed_s=elapsed,
            row_source=lambda picks: self.rows(s, picks),
        )
