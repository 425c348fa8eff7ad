"""Refusals of the proof-of-compute protocol.

Each refusal is its own class with a stable, machine-readable ``code`` so that an oracle can
answer it over HTTP and an agent can act on it without parsing sentences.
"""

from __future__ import annotations

from depin.errors import DepinError, facts

__all__ = [
    "ChallengeExpiredError",
    "CommitmentMismatchError",
    "DigestMismatchError",
    "LateCommitmentError",
    "MalformedRevealError",
    "ProofError",
    "ReplayedChallengeError",
    "RowMismatchError",
    "UnknownChallengeError",
    "WrongDeviceCountError",
]


class ProofError(DepinError):
    """Base of every proof-of-compute refusal."""

    code = "proof_error"


@facts
class LateCommitmentError(ProofError):
    """The commitments arrived after the challenge's deadline: the device is too slow."""

    code = "late_commitment"
    template = (
        "challenge {challenge_id}: commitments after {elapsed_s:.4f} s, deadline was "
        "{deadline_s:.4f} s ({tops:.3f} TOPS is below what the claimed model must reach)"
    )
    challenge_id: str
    elapsed_s: float
    deadline_s: float
    tops: float


@facts
class CommitmentMismatchError(ProofError):
    """A revealed digest vector does not hash to the commitment sent for its round."""

    code = "commitment_mismatch"
    template = (
        "challenge {challenge_id}: the digests revealed for round {round_index} "
        "do not match the commitment"
    )
    challenge_id: str
    round_index: int


@facts
class DigestMismatchError(ProofError):
    """A revealed row does not reduce to the digest committed for it."""

    code = "digest_mismatch"
    template = (
        "challenge {challenge_id}: row {row} of round {round_index} does not match its committed "
        "digest"
    )
    challenge_id: str
    round_index: int
    row: int


@facts
class RowMismatchError(ProofError):
    """A revealed row differs from the product the oracle recomputed."""

    code = "row_mismatch"
    template = (
        "challenge {challenge_id}: row {row} of round {round_index} is not the product of the "
        "seeded matrices"
    )
    challenge_id: str
    round_index: int
    row: int


@facts
class ReplayedChallengeError(ProofError):
    """The challenge was already answered (or refused); challenges are single-use."""

    code = "replayed_challenge"
    template = "challenge {challenge_id} was already used"
    challenge_id: str


@facts
class WrongDeviceCountError(ProofError):
    """A multi-GPU claim answered with a different number of devices than it was issued for."""

    code = "wrong_device_count"
    template = "challenge batch {batch_id} was issued for {expected} GPU(s), answered for {got}"
    batch_id: str
    expected: int
    got: int


@facts
class UnknownChallengeError(ProofError):
    """No challenge (or batch) with this id was issued by this oracle."""

    code = "unknown_challenge"
    template = "no challenge {challenge_id} was issued here"
    challenge_id: str


@facts
class ChallengeExpiredError(ProofError):
    """The challenge's exchange window closed before this message arrived."""

    code = "challenge_expired"
    template = "challenge {challenge_id} has expired"
    challenge_id: str


@facts
class MalformedRevealError(ProofError):
    """A commitment or reveal does not have the shape its challenge requires."""

    code = "malformed_reveal"
    template = "challenge {challenge_id}: malformed answer: {reason}"
    challenge_id: str
    reason: str
