"""The agent-oracle wire: request and response bodies of the oracle's HTTP API and the codes of
its refusals.

Both sides import these models: the oracle validates what it receives and answers with them, the
agent builds its requests and reads the answers with them. Attributes are snake_case; on the wire
every field is camelCase (its alias), as the EIP-712 messages and the contracts name them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from depin.attestation import NO_CAPABILITIES, GpuAttestation, Heartbeat, Liveness
from depin.capabilities import CapabilityDocument
from depin.crypto import checksum_address, hex_bytes, to_hex
from depin.eip712 import parse_int
from depin.proof import ChallengeBatch, Commitment, ProofResult, RevealRequest, RevealResponse
from depin.proof.certificate import ProofCertificate

__all__ = [
    "Address",
    "Approval",
    "AttestationBody",
    "AttestationRequest",
    "Bundle",
    "BundleReceipt",
    "Bytes32",
    "CertificateBody",
    "ChallengeToken",
    "CoSignature",
    "CommitRequest",
    "CommitResponse",
    "CosignRequest",
    "EvidenceRequest",
    "EvidenceResponse",
    "GpuChallenge",
    "HeartbeatReceipt",
    "HeartbeatRequest",
    "Info",
    "LivenessCosignRequest",
    "LivenessView",
    "ProofChallenge",
    "RefusalCode",
    "RevealBody",
    "RevealResult",
    "Signature65",
]


class RefusalCode(StrEnum):
    """Every refusal code an oracle answers with (the ``code`` of its problem documents)."""

    MALFORMED_REQUEST = "malformed_request"
    INVALID_AGENT_SIGNATURE = "invalid_agent_signature"
    UNAUTHORIZED_AGENT = "unauthorized_agent"
    UNKNOWN_CHALLENGE = "unknown_challenge"
    CHALLENGE_EXPIRED = "challenge_expired"
    CHALLENGE_REPLAYED = "challenge_replayed"
    CHALLENGE_MISMATCH = "challenge_mismatch"
    UNKNOWN_MODEL = "unknown_model"
    VENDOR_MISMATCH = "vendor_mismatch"
    IMPLAUSIBLE_MEMORY = "implausible_memory"
    THROUGHPUT_ABOVE_PEAK = "throughput_above_peak"
    THROUGHPUT_BELOW_FLOOR = "throughput_below_floor"
    BAD_VALIDITY = "bad_validity"
    MEASURED_IN_FUTURE = "measured_in_future"
    STALE_EPOCH = "stale_epoch"
    UNKNOWN_GPU = "unknown_gpu"
    UNJUSTIFIED_LIVENESS = "unjustified_liveness"
    INSUFFICIENT_APPROVALS = "insufficient_approvals"
    NOT_APPROVED = "not_approved"
    WRONG_CONFIG_VERSION = "wrong_config_version"
    UNAVAILABLE = "unavailable"
    BODY_TOO_LARGE = "body_too_large"
    RATE_LIMITED = "rate_limited"
    PROOF_REQUIRED = "proof_required"
    INVALID_PROOF = "invalid_proof"
    PROOF_MISMATCH = "proof_mismatch"
    SIMULATED_NOT_ALLOWED = "simulated_not_allowed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    MISSING_FIGURE = "missing_figure"
    # proof of compute (depin.proof.errors)
    LATE_COMMITMENT = "late_commitment"
    COMMITMENT_MISMATCH = "commitment_mismatch"
    DIGEST_MISMATCH = "digest_mismatch"
    ROW_MISMATCH = "row_mismatch"
    REPLAYED_CHALLENGE = "replayed_challenge"
    WRONG_DEVICE_COUNT = "wrong_device_count"
    MALFORMED_REVEAL = "malformed_reveal"
    # capability documents (oracle.capabilities)
    CAPABILITIES_HASH_MISMATCH = "capabilities_hash_mismatch"
    CAPABILITIES_CONTRADICTION = "capabilities_contradiction"


def _hex_bytes(size: int | None) -> object:
    def parse(value: object) -> bytes:
        return hex_bytes(value, size)

    return parse


def _address(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected an address")
    return checksum_address(value)


_ser = PlainSerializer(to_hex, return_type=str)
Bytes32 = Annotated[bytes, BeforeValidator(_hex_bytes(32)), _ser]
Signature65 = Annotated[bytes, BeforeValidator(_hex_bytes(65)), _ser]
HexBytes = Annotated[bytes, BeforeValidator(_hex_bytes(None)), _ser]
Address = Annotated[str, BeforeValidator(_address)]


def _uint(bits: int) -> object:
    def parse(value: object) -> int:
        return parse_int(value, f"uint{bits}")

    return parse


def _uint_schema(bits: int) -> dict[str, object]:
    return {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 2**bits - 1},
            {"type": "string", "pattern": r"^(0x[0-9a-fA-F]{1,64}|[0-9]{1,80})$"},
        ],
        "description": f"a uint{bits}: an integer, or a decimal or 0x-hex string",
    }


# Integers as the EIP-712 messages carry them (JSON integers, or decimal or 0x-hex strings),
# each within its width: floats, booleans and numbers out of range are refused with the bounds.
U16 = Annotated[int, BeforeValidator(_uint(16)), WithJsonSchema(_uint_schema(16))]
U32 = Annotated[int, BeforeValidator(_uint(32)), WithJsonSchema(_uint_schema(32))]
U64 = Annotated[int, BeforeValidator(_uint(64)), WithJsonSchema(_uint_schema(64))]


class _Body(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class AttestationBody(_Body):
    provider: Address
    agent: Address
    gpu_key: Bytes32
    vendor_id: U16
    model: Bytes32
    memory_bytes: U64
    fp32_gflops: U32
    fp16_gflops: U32
    memory_bandwidth_gbps: Annotated[U32, Field(alias="memoryBandwidthGBps")]
    proven_int8_gops: U32
    challenge: Bytes32
    measured_at: U32
    expires_at: U32
    capabilities: Bytes32 = NO_CAPABILITIES

    def message(self) -> GpuAttestation:
        return GpuAttestation(
            self.provider, self.agent, self.gpu_key, self.vendor_id, self.model,
            self.memory_bytes, self.fp32_gflops, self.fp16_gflops, self.memory_bandwidth_gbps,
            self.proven_int8_gops, self.challenge, self.measured_at, self.expires_at,
            self.capabilities,
        )  # fmt: skip

    @classmethod
    def of(cls, m: GpuAttestation) -> AttestationBody:
        return cls.model_validate(m.message_json())


class ChallengeToken(_Body):
    """A challenge issued by one oracle of the network; any oracle can check it."""

    issuer: Address
    nonce: Bytes32
    issued_at: U64
    expires_at: U64
    challenge: Bytes32
    signature: Signature65
    kind: str = "nonce"


class CertificateBody(_Body):
    """A :class:`~depin.proof.certificate.ProofCertificate` with its issuer's signature."""

    issuer: Address
    provider: Address
    agent: Address
    gpu_key: Bytes32
    model: Bytes32
    challenge: Bytes32
    proven_int8_gops: U32
    verified_at: U64
    expires_at: U64
    signature: Signature65

    def message(self) -> ProofCertificate:
        return ProofCertificate(
            self.issuer, self.provider, self.agent, self.gpu_key, self.model, self.challenge,
            self.proven_int8_gops, self.verified_at, self.expires_at,
        )  # fmt: skip

    @classmethod
    def of(cls, certificate: ProofCertificate, signature: bytes) -> CertificateBody:
        return cls.model_validate(certificate.to_json(signature))


class AttestationRequest(_Body):
    """An agent's attestation with the proof behind it: a proof certificate (``proof``), or
    where an oracle does not require proofs, a plain challenge token (``challenge``).
    ``capabilities`` is the host's capability document, whose keccak256 the attestation's
    ``capabilities`` names (absent when that is zero)."""

    attestation: AttestationBody
    signature: Signature65
    challenge: ChallengeToken | None = None
    proof: CertificateBody | None = None
    capabilities: CapabilityDocument | None = None


class GpuChallenge(_Body):
    """Which proof-of-compute challenge is for which GPU, and the bytes32 its attestation
    carries."""

    gpu_key: Bytes32
    challenge_id: str
    challenge: Bytes32


class ProofChallenge(_Body):
    """``GET /v1/challenge`` with a claim: one proof-of-compute challenge per GPU."""

    issuer: Address
    batch: ChallengeBatch
    gpus: list[GpuChallenge]


class CommitRequest(_Body):
    batch_id: str
    commitments: list[Commitment] = Field(min_length=1, max_length=1024)


class CommitResponse(_Body):
    requests: list[RevealRequest]


class RevealBody(_Body):
    batch_id: str
    responses: list[RevealResponse] = Field(min_length=1, max_length=1024)


class RevealResult(_Body):
    results: list[ProofResult]
    certificates: list[CertificateBody]


class Approval(_Body):
    oracle: Address
    config_version: U32
    signature: Signature65


class Bundle(_Body):
    """An attestation with its agent signature and the approvals of t oracles."""

    attestation: AttestationBody
    signature: Signature65
    approvals: list[Approval]


class BundleReceipt(_Body):
    digest: Bytes32
    queued: bool


class CosignRequest(_Body):
    config_version: U32
    entries: list[Bundle]


class CoSignature(_Body):
    oracle: Address
    signature: Signature65


class HeartbeatRequest(_Body):
    """An agent's signed heartbeat: its GPUs up in ``epoch``, each with a status byte
    (:class:`~depin.attestation.GpuStatus`: bit 0 available, bit 1 healthy). ``reasons`` (one
    text per GPU, empty where nothing is wrong) are not signed: they are for logs only."""

    provider: Address
    agent: Address
    gpu_keys: list[Bytes32] = Field(max_length=256)
    epoch: U64
    status: HexBytes
    signature: Signature65
    reasons: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=256)

    @model_validator(mode="after")
    def _one_status_per_gpu(self) -> HeartbeatRequest:
        if len(self.status) != len(self.gpu_keys):
            raise ValueError(
                f"status has {len(self.status)} bytes for {len(self.gpu_keys)} GPU keys"
            )
        return self

    def message(self) -> Heartbeat:
        return Heartbeat(
            self.provider, self.agent, tuple(self.gpu_keys), self.epoch, bytes(self.status)
        )


class HeartbeatReceipt(_Body):
    epoch: int
    indices: list[int]


class LivenessView(_Body):
    """One epoch's three bitmaps over GPU indexes (see :class:`~depin.attestation.Liveness`)."""

    online: HexBytes
    available: HexBytes
    healthy: HexBytes

    @classmethod
    def of(cls, liveness: Liveness) -> LivenessView:
        return cls(online=liveness.online, available=liveness.available, healthy=liveness.healthy)

    def liveness(self) -> Liveness:
        return Liveness(bytes(self.online), bytes(self.available), bytes(self.healthy))


class EvidenceRequest(_Body):
    """``POST /v1/liveness/evidence``: the leader's view of ``epoch``."""

    epoch: U64
    view: LivenessView


class EvidenceResponse(_Body):
    """This oracle's view of ``epoch`` and the signed heartbeats behind every GPU the leader
    lacks or saw with another status."""

    epoch: int
    view: LivenessView
    heartbeats: list[HeartbeatRequest]


class LivenessCosignRequest(_Body):
    """``POST /v1/liveness/cosign``: the record to sign, with the heartbeats that justify the
    bits where this oracle's view differs."""

    config_version: U32
    epoch: U64
    liveness: LivenessView
    evidence: list[HeartbeatRequest] = []


class Info(_Body):
    oracle: Address
    config_version: int
    threshold: int
    oracles: list[Address]
    chain_id: int
    attestation_oracle: Address
    epoch_length: int
    queue: dict[str, int]
    transmitter: bool = True
    allow_simulated: bool = False
    require_proof: bool = True
