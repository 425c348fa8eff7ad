"""Refusals of the oracle pipeline: a stable machine-readable code, an HTTP status, a sentence."""

from __future__ import annotations

from depin.errors import DepinError


class Refusal(DepinError):
    """An attestation, heartbeat or request the oracle will not sign (RFC 9457 problem)."""

    code = "refused"
    status = 422

    def __init__(self, code: str, detail: str, *, status: int = 422) -> None:
        super().__init__(detail)
        self.code = code
        self.status = status
        self.detail = detail

    def problem(self) -> dict[str, object]:
        return {
            "type": f"https://depin.dev/problems/{self.code.replace('_', '-')}",
            "title": self.code.replace("_", " ").capitalize(),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }


# Every refusal code the oracle answers with.
CODES = (
    "malformed_request",
    "invalid_agent_signature",
    "unauthorized_agent",
    "unknown_challenge",
    "challenge_expired",
    "challenge_replayed",
    "challenge_mismatch",
    "unknown_model",
    "vendor_mismatch",
    "implausible_memory",
    "throughput_above_peak",
    "throughput_below_floor",
    "bad_validity",
    "measured_in_future",
    "stale_epoch",
    "unknown_gpu",
    "insufficient_approvals",
    "not_approved",
    "wrong_config_version",
    "unavailable",
    "proof_required",
    "invalid_proof",
    "proof_mismatch",
    "simulated_not_allowed",
    # proof of compute (depin.proof.errors)
    "late_commitment",
    "commitment_mismatch",
    "digest_mismatch",
    "row_mismatch",
    "replayed_challenge",
    "wrong_device_count",
    "malformed_reveal",
)
