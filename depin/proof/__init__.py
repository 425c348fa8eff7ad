"""Proof of compute: the protocol shared by the agent's provers and the oracle's verifier.

A GPU claim is proven by finishing seeded int8 matrix products before a deadline set from the
claimed model's int8 peak, committing to nonlinear row digests, and opening rows the oracle
picks afterwards. See ``docs/proof-of-compute.md`` for the protocol and its security argument.
"""

from depin.proof.errors import (
    ChallengeExpiredError,
    CommitmentMismatchError,
    DigestMismatchError,
    LateCommitmentError,
    MalformedRevealError,
    ProofError,
    ReplayedChallengeError,
    RowMismatchError,
    UnknownChallengeError,
    WrongDeviceCountError,
)
from depin.proof.messages import (
    Challenge,
    ChallengeBatch,
    Commitment,
    Opening,
    PickModel,
    ProofResult,
    RevealRequest,
    RevealResponse,
    RoundDigests,
    decode_array,
    encode_array,
)
from depin.proof.spec import CPU_PARAMS, PRODUCTION_PARAMS, VERSION, Pick, ProofParams

__all__ = [
    "CPU_PARAMS",
    "PRODUCTION_PARAMS",
    "VERSION",
    "Challenge",
    "ChallengeBatch",
    "ChallengeExpiredError",
    "Commitment",
    "CommitmentMismatchError",
    "DigestMismatchError",
    "LateCommitmentError",
    "MalformedRevealError",
    "Opening",
    "Pick",
    "PickModel",
    "ProofError",
    "ProofParams",
    "ProofResult",
    "ReplayedChallengeError",
    "RevealRequest",
    "RevealResponse",
    "RoundDigests",
    "RowMismatchError",
    "UnknownChallengeError",
    "WrongDeviceCountError",
    "decode_array",
    "encode_array",
]
