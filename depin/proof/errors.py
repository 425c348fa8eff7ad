"""Refusals of the proof-of-compute protocol.

Each refusal is its own class with a stable, machine-readable ``code`` so that an oracle can
answer it over HTTP and an agent can act on it without parsing sentences.
"""

from __future__ import annotations

from depin.errors import DepinError

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


class LateCommitmentError(ProofError):
    """The commitments arrived after the challenge's deadline: the device is too slow."""

    code = "late_commitment"

    def __init__(self, challenge_id: str, elapsed_s: float, deadline_s: float, tops: float) -> None:
        self.challenge_id = challenge_id
        self.elapsed_s = elapsed_s
        self.deadline_s = deadline_s
        self.tops = tops
        super().__init__(
            f"challenge {challenge_id}: commitments after {elapsed_s:.4f} s, deadline was "
            f"{deadline_s:.4f} s ({tops:.3f} TOPS is below what the claimed model must reach)"
        )


class CommitmentMismatchError(ProofError):
    """A revealed digest vector does not hash to the commitment sent for its round."""

    code = "commitment_mismatch"

    def __init__(self, challenge_id: str, round_index: int) -> None:
        self.challenge_id = challenge_id
        self.round_index = round_index
        super().__init__(
            f"challenge {challenge_id}: the digests revealed for round {round_index} "
            "do not match the commitment"
        )


class DigestMismatchError(ProofError):
    """A revealed row does not reduce to the digest committed for it."""

    code = "digest_mismatch"

    def __init__(self, challenge_id: str, round_index: int, row: int) -> None:
        self.challenge_id = challenge_id
        self.round_index = round_index
        self.row = row
        super().__init__(
            f"challenge {challenge_id}: row {row} of round {round_index} does not match "
            "its committed digest"
        )


class RowMismatchError(ProofError):
    """A revealed row differs from the product the oracle recomputed."""

    code = "row_mismatch"

    def __init__(self, challenge_id: str, round_index: int, row: int) -> None:
        self.challenge_id = challenge_id
        self.round_index = round_index
        self.row = row
        super().__init__(
            f"challenge {challenge_id}: row {row} of round {round_index} is not the product "
            "of the seeded matrices"
        )


class ReplayedChallengeError(ProofError):
    """The challenge was already answered (or refused); challenges are single-use."""

    code = "replayed_challenge"

    def __init__(self, challenge_id: str) -> None:
        self.challenge_id = challenge_id
        super().__init__(f"challenge {challenge_id} was already used")


class WrongDeviceCountError(ProofError):
    """A multi-GPU claim answered with a different number of devices than it was issued for."""

    code = "wrong_device_count"

    def __init__(self, batch_id: str, expected: int, got: int) -> None:
        self.batch_id = batch_id
        self.expected = expected
        self.got = got
        super().__init__(
            f"challenge batch {batch_id} was issued for {expected} GPU(s), answered for {got}"
        )


class UnknownChallengeError(ProofError):
    """No challenge (or batch) with this id was issued by this oracle."""

    code = "unknown_challenge"

    def __init__(self, challenge_id: str) -> None:
        self.challenge_id = challenge_id
        super().__init__(f"no challenge {challenge_id} was issued here")


class ChallengeExpiredError(ProofError):
    """The challenge's exchange window closed before this message arrived."""

    code = "challenge_expired"

    def __init__(self, challenge_id: str) -> None:
        self.challenge_id = challenge_id
        super().__init__(f"challenge {challenge_id} has expired")


class MalformedRevealError(ProofError):
    """A commitment or reveal does not have the shape its challenge requires."""

    code = "malformed_reveal"

    def __init__(self, challenge_id: str, reason: str) -> None:
        self.challenge_id = challenge_id
        self.reason = reason
        super().__init__(f"challenge {challenge_id}: malformed answer: {reason}")
