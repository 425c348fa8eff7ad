"""The messages of the proof-of-compute exchange, defined once for prover and verifier.

Binary payloads travel as base64 of little-endian arrays; the models check the encoding here
and the verifier checks lengths against the challenge.

Exchange: oracle -> :class:`Challenge` (or a :class:`ChallengeBatch`, one per GPU); agent ->
:class:`Commitment` before the deadline; oracle -> :class:`RevealRequest`; agent ->
:class:`RevealResponse`; oracle -> :class:`ProofResult` or a refusal with a code.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from depin.proof.spec import Pick, ProofParams

__all__ = [
    "Challenge",
    "ChallengeBatch",
    "Commitment",
    "Opening",
    "PickModel",
    "ProofResult",
    "RevealRequest",
    "RevealResponse",
    "RoundDigests",
    "decode_array",
    "encode_array",
]

_HEX_ID = r"^[0-9a-f]{32}$"
_HEX_SEED = r"^[0-9a-f]{64}$"
_HEX_HASH = r"^[0-9a-f]{64}$"


def _valid_base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not valid base64") from exc
    return value


B64 = Annotated[str, Field(max_length=64 << 20), AfterValidator(_valid_base64)]


def encode_array(values: NDArray[np.integer[Any]], dtype: Literal["<i4", "<i8"]) -> str:
    """Base64 of the array as little-endian ``dtype``."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode()


def decode_array(text: str, dtype: Literal["<i4", "<i8"], length: int) -> NDArray[np.int64]:
    """Decode base64 into ``length`` integers; ``ValueError`` if the length is wrong."""
    raw = base64.b64decode(text, validate=True)
    width = np.dtype(dtype).itemsize
    if len(raw) != width * length:
        raise ValueError(f"expected {length} values of {width} bytes, got {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).astype(np.int64)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Challenge(_Frozen):
    """One GPU's challenge. Times are the oracle's clock, in seconds since the epoch.

    ``deadline_at - issued_at`` is ``ops / (efficiency_floor * peak_tops * 1e12)`` plus the
    agent's network allowance.
    """

    version: Literal["depin-poc/1"] = "depin-poc/1"
    challenge_id: str = Field(pattern=_HEX_ID)
    batch_id: str = Field(pattern=_HEX_ID)
    device_index: int = Field(ge=0, le=1023)
    seed: str = Field(pattern=_HEX_SEED)
    params: ProofParams
    model_id: str
    peak_tops: float = Field(gt=0)
    efficiency_floor: float = Field(gt=0, le=1)
    allowance_s: float = Field(ge=0)
    issued_at: float
    deadline_at: float
    expires_at: float

    @model_validator(mode="after")
    def _times(self) -> Challenge:
        if not self.issued_at < self.deadline_at <= self.expires_at:
            raise ValueError("times must satisfy issued_at < deadline_at <= expires_at")
        return self

    @property
    def seed_bytes(self) -> bytes:
        return bytes.fromhex(self.seed)

    @property
    def id_bytes(self) -> bytes:
        return bytes.fromhex(self.challenge_id)

    @property
    def deadline_s(self) -> float:
        """Seconds from issue to the deadline."""
        return self.deadline_at - self.issued_at


class ChallengeBatch(_Frozen):
    """The challenges of one host's claim, one per GPU, to be run concurrently."""

    batch_id: str = Field(pattern=_HEX_ID)
    challenges: tuple[Challenge, ...] = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _consistent(self) -> ChallengeBatch:
        if any(c.batch_id != self.batch_id for c in self.challenges):
            raise ValueError("every challenge must carry the batch id")
        if len({c.device_index for c in self.challenges}) != len(self.challenges):
            raise ValueError("device indices must be distinct")
        return self


class Commitment(_Frozen):
    """The hash of each round's digest vector, sent before the deadline."""

    challenge_id: str = Field(pattern=_HEX_ID)
    round_hashes: tuple[Annotated[str, Field(pattern=_HEX_HASH)], ...] = Field(
        min_length=1, max_length=100_000
    )
    backend: str = Field(default="", max_length=64)


class PickModel(_Frozen):
    round: int = Field(ge=0)
    row: int = Field(ge=0)

    def as_pick(self) -> Pick:
        return Pick(self.round, self.row)


class RevealRequest(_Frozen):
    """The ``(round, row)`` pairs the oracle opens, drawn after the commitments arrived."""

    challenge_id: str = Field(pattern=_HEX_ID)
    picks: tuple[PickModel, ...] = Field(min_length=1, max_length=1024)

    def pick_list(self) -> list[Pick]:
        return [p.as_pick() for p in self.picks]


class Opening(_Frozen):
    """One revealed product row: ``cols`` int32, little-endian, base64."""

    round: int = Field(ge=0)
    row: int = Field(ge=0)
    values: B64


class RoundDigests(_Frozen):
    """One round's whole digest vector: ``rows`` int64, little-endian, base64."""

    round: int = Field(ge=0)
    digests: B64


class RevealResponse(_Frozen):
    challenge_id: str = Field(pattern=_HEX_ID)
    openings: tuple[Opening, ...] = Field(min_length=1, max_length=1024)
    rounds: tuple[RoundDigests, ...] = Field(min_length=1, max_length=1024)


class ProofResult(_Frozen):
    """A verified proof: the GPU's attested int8 throughput, distinct from benchmark figures."""

    challenge_id: str
    batch_id: str
    device_index: int
    model_id: str
    ops: int
    elapsed_s: float
    deadline_s: float
    attested_tops: float
    peak_tops: float
    fraction_of_peak: float
    samples: int
