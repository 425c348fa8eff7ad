"""Refusals of the oracle: one class per refusal, each with a stable
:class:`~depin.wire.RefusalCode`, an HTTP status and the facts behind it.

The HTTP API answers each as an RFC 9457 problem (:mod:`depin.problems`) whose ``code`` an agent
reads back as the same :class:`~depin.wire.RefusalCode`.
"""

from __future__ import annotations

from typing import Any

from depin.crypto import recover_bytes, same_address
from depin.errors import DepinError, SignatureError, facts
from depin.problems import problem_document
from depin.wire import RefusalCode

__all__ = [
    "CODES",
    "BadValidity",
    "ChallengeExpired",
    "ChallengeMismatch",
    "ChallengeReplayed",
    "ImplausibleMemory",
    "InsufficientApprovals",
    "InvalidAgentSignature",
    "InvalidProof",
    "MalformedRequest",
    "MeasuredInFuture",
    "MethodNotAllowed",
    "MissingFigure",
    "NotApproved",
    "NotFound",
    "ProofMismatch",
    "ProofRequired",
    "Refusal",
    "SimulatedNotAllowed",
    "StaleEpoch",
    "ThroughputAbovePeak",
    "ThroughputBelowFloor",
    "UnauthorizedAgent",
    "UnjustifiedLiveness",
    "UnknownChallenge",
    "UnknownGpu",
    "UnknownModel",
    "VendorMismatch",
    "WrongConfigVersion",
]


class Refusal(DepinError):
    """An attestation, heartbeat or request the oracle will not sign (an RFC 9457 problem)."""

    code: RefusalCode
    status: int = 422

    def __init__(self, detail: str | None = None) -> None:
        """``detail``: the sentence; by default the class's ``template`` (a fixed one)."""
        detail = self.template if detail is None else detail
        super().__init__(detail)
        self.detail = detail

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem_document(self.code, self.status, self.detail, instance=instance)


class MalformedRequest(Refusal):
    """The request does not have the shape the API requires."""

    code = RefusalCode.MALFORMED_REQUEST


@facts
class NotFound(Refusal):
    """No route answers this path."""

    code = RefusalCode.NOT_FOUND
    status = 404
    template = "no route {path}"
    path: str


@facts
class MethodNotAllowed(Refusal):
    """The route exists, not for this method."""

    code = RefusalCode.METHOD_NOT_ALLOWED
    status = 405
    template = "{method} is not allowed on {path}"
    method: str
    path: str


class InvalidAgentSignature(Refusal):
    """The agent's signature does not recover, or recovers to another address."""

    code = RefusalCode.INVALID_AGENT_SIGNATURE

    def __init__(self, agent: str, reason: str | None = None) -> None:
        self.agent = agent
        self.reason = reason
        super().__init__(reason if reason is not None else f"the signature is not {agent}'s")

    @classmethod
    def check(cls, agent: str, digest: bytes, signature: bytes) -> None:
        """Refuses ``signature`` unless it recovers from ``digest`` to ``agent``."""
        try:
            signer = recover_bytes(digest, signature)
        except SignatureError as exc:
            raise cls(agent, str(exc)) from None
        if not same_address(agent, signer):
            raise cls(agent)


class UnauthorizedAgent(Refusal):
    """The provider has not authorized this agent (never, revoked or expired)."""

    code = RefusalCode.UNAUTHORIZED_AGENT
    status = 403

    def __init__(self, provider: str, agent: str, detail: str | None = None) -> None:
        self.provider = provider
        self.agent = agent
        super().__init__(
            detail
            if detail is not None
            else f"{agent} is not an authorized agent of {provider} "
            "(never authorized, revoked or expired)"
        )


class ChallengeMismatch(Refusal):
    """The attestation does not carry the challenge it comes with."""

    code = RefusalCode.CHALLENGE_MISMATCH
    template = "the attestation does not carry this challenge"


class UnknownChallenge(Refusal):
    """No oracle of this network issued the challenge (or no claim is recorded for it)."""

    code = RefusalCode.UNKNOWN_CHALLENGE

    def __init__(self, detail: str, *, challenge_id: str | None = None) -> None:
        self.challenge_id = challenge_id
        super().__init__(detail)


@facts
class ChallengeExpired(Refusal):
    code = RefusalCode.CHALLENGE_EXPIRED
    template = "the challenge expired at {expires_at}"
    expires_at: int


class ChallengeReplayed(Refusal):
    """The challenge was already used by another attestation; challenges are single-use."""

    code = RefusalCode.CHALLENGE_REPLAYED
    template = "the challenge was already used by another attestation"


class UnknownModel(Refusal):
    code = RefusalCode.UNKNOWN_MODEL

    def __init__(self, model_id: str, detail: str | None = None) -> None:
        self.model_id = model_id
        super().__init__(detail if detail is not None else f"{model_id!r} is not in the spec table")


@facts
class SimulatedNotAllowed(Refusal):
    code = RefusalCode.SIMULATED_NOT_ALLOWED
    template = (
        "{model_id!r} is a simulated GPU; this oracle accepts those only with "
        "DEPIN_ORACLE_ALLOW_SIMULATED=true on a dev chain"
    )
    model_id: str


@facts
class VendorMismatch(Refusal):
    code = RefusalCode.VENDOR_MISMATCH
    template = "{model_id} is made by {expected:#06x}, not {attested:#06x}"
    model_id: str
    expected: int
    attested: int


@facts
class ImplausibleMemory(Refusal):
    code = RefusalCode.IMPLAUSIBLE_MEMORY
    model: str
    expected_bytes: int
    attested_bytes: int

    def describe(self) -> str:
        return (
            f"{self.model} has {self.expected_bytes / 2**30:.0f} GiB, "
            f"the attestation says {self.attested_bytes / 2**30:.1f} GiB"
        )


@facts
class ThroughputAbovePeak(Refusal):
    code = RefusalCode.THROUGHPUT_ABOVE_PEAK
    template = "{field} {value} is above {model}'s published peak {peak:.0f} x {margin}"
    field: str
    value: int
    model: str
    peak: float
    margin: float


@facts
class MissingFigure(Refusal):
    """A measured figure is zero: the agent did not measure it, and the registry does not record
    a GPU it cannot describe."""

    code = RefusalCode.MISSING_FIGURE
    template = "{field} is 0: every figure must be measured"
    field: str


@facts
class ThroughputBelowFloor(Refusal):
    code = RefusalCode.THROUGHPUT_BELOW_FLOOR
    template = "provenInt8Gops {value} is below {fraction:.0%} of {model}'s peak"
    value: int
    model: str
    fraction: float


@facts
class BadValidity(Refusal):
    code = RefusalCode.BAD_VALIDITY
    template = "expiresAt must be in the future and within {max_validity_s}s of measuredAt"
    max_validity_s: int


@facts
class MeasuredInFuture(Refusal):
    code = RefusalCode.MEASURED_IN_FUTURE
    template = "measuredAt {measured_at} is ahead of {now}"
    measured_at: int
    now: int


class StaleEpoch(Refusal):
    code = RefusalCode.STALE_EPOCH

    def __init__(self, epoch: int, current: int, detail: str | None = None) -> None:
        self.epoch = epoch
        self.current = current
        super().__init__(
            detail if detail is not None else f"epoch {epoch} is not the current epoch {current}"
        )


class UnknownGpu(Refusal):
    code = RefusalCode.UNKNOWN_GPU
    status = 404
    template = "none of these GPUs has a current attestation of this provider"


@facts
class UnjustifiedLiveness(Refusal):
    """A bit of a liveness record that no valid heartbeat for its epoch justifies: a GPU
    marked online that no heartbeat covers (another provider's GPU, an index the heartbeat does
    not name), or an available or healthy bit no heartbeat says."""

    code = RefusalCode.UNJUSTIFIED_LIVENESS
    status = 409
    template = "no valid heartbeat for epoch {epoch} justifies GPU {index}'s {bit} bit"
    epoch: int
    index: int
    bit: str


@facts
class InsufficientApprovals(Refusal):
    code = RefusalCode.INSUFFICIENT_APPROVALS
    template = "{valid} valid approvals under config {config_version}, {needed} needed"
    valid: int
    needed: int
    config_version: int


class NotApproved(Refusal):
    """This oracle did not approve (or see) everything it is asked to co-sign."""

    code = RefusalCode.NOT_APPROVED
    status = 409


@facts
class WrongConfigVersion(Refusal):
    code = RefusalCode.WRONG_CONFIG_VERSION
    status = 409
    template = "config {config_version} is not current"
    config_version: int


class ProofRequired(Refusal):
    code = RefusalCode.PROOF_REQUIRED
    template = (
        "this oracle approves only attestations with a proof-of-compute certificate: "
        "ask GET /v1/challenge with the claim, prove, and send the certificate as `proof`"
    )


class InvalidProof(Refusal):
    code = RefusalCode.INVALID_PROOF


@facts
class ProofMismatch(Refusal):
    code = RefusalCode.PROOF_MISMATCH
    template = "the attestation's {field} is not the one the proof certificate covers"
    field: str


PROOF_STATUS: dict[str, int] = {RefusalCode.REPLAYED_CHALLENGE: 409}
"""The HTTP status of a proof-of-compute refusal (:mod:`depin.proof.errors`) when not 422."""

CODES: tuple[RefusalCode, ...] = tuple(RefusalCode)
"""Every refusal code the oracle answers with."""
