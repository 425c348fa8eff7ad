"""Request and response bodies of the oracle's HTTP API."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from eth_utils import to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from depin.attestation import GpuAttestation, Heartbeat
from depin.proof import ChallengeBatch, Commitment, ProofResult, RevealRequest, RevealResponse
from depin.proof.certificate import ProofCertificate


def _hex_bytes(size: int | None) -> object:
    def parse(value: object) -> bytes:
        if isinstance(value, bytes):
            raw = value
        elif isinstance(value, str):
            text = value[2:] if value.startswith("0x") else value
            raw = bytes.fromhex(text)
        else:
            raise ValueError("expected a 0x-prefixed hex string")
        if size is not None and len(raw) != size:
            raise ValueError(f"expected {size} bytes, got {len(raw)}")
        return raw

    return parse


def _address(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected an address")
    return _checksum(value)


@lru_cache(maxsize=65536)
def _checksum(value: str) -> str:
    return str(to_checksum_address(value))


_ser = PlainSerializer(lambda b: "0x" + b.hex(), return_type=str)
Bytes32 = Annotated[bytes, BeforeValidator(_hex_bytes(32)), _ser]
Signature65 = Annotated[bytes, BeforeValidator(_hex_bytes(65)), _ser]
Address = Annotated[str, BeforeValidator(_address)]
U32 = Annotated[int, Field(ge=0, lt=2**32)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttestationBody(_Body):
    provider: Address
    agent: Address
    gpuKey: Bytes32
    vendorId: Annotated[int, Field(ge=0, lt=2**16)]
    model: Bytes32
    memoryBytes: Annotated[int, Field(ge=0, lt=2**64)]
    fp32Gflops: U32
    fp16Gflops: U32
    memoryBandwidthGBps: U32
    provenInt8Gops: U32
    challenge: Bytes32
    measuredAt: U32
    expiresAt: U32

    def message(self) -> GpuAttestation:
        return GpuAttestation(
            self.provider, self.agent, self.gpuKey, self.vendorId, self.model, self.memoryBytes,
            self.fp32Gflops, self.fp16Gflops, self.memoryBandwidthGBps, self.provenInt8Gops,
            self.challenge, self.measuredAt, self.expiresAt,
        )  # fmt: skip

    @classmethod
    def of(cls, m: GpuAttestation) -> AttestationBody:
        return cls.model_validate(m.message_json())


class ChallengeToken(_Body):
    """A challenge issued by one oracle of the network; any oracle can check it."""

    issuer: Address
    nonce: Bytes32
    issuedAt: int
    expiresAt: int
    challenge: Bytes32
    signature: Signature65
    kind: str = "nonce"


class CertificateBody(_Body):
    """A :class:`~depin.proof.certificate.ProofCertificate` with its issuer's signature."""

    issuer: Address
    provider: Address
    agent: Address
    gpuKey: Bytes32
    model: Bytes32
    challenge: Bytes32
    provenInt8Gops: U32
    verifiedAt: Annotated[int, Field(ge=0, lt=2**64)]
    expiresAt: Annotated[int, Field(ge=0, lt=2**64)]
    signature: Signature65

    def message(self) -> ProofCertificate:
        return ProofCertificate(
            self.issuer, self.provider, self.agent, self.gpuKey, self.model, self.challenge,
            self.provenInt8Gops, self.verifiedAt, self.expiresAt,
        )  # fmt: skip

    @classmethod
    def of(cls, certificate: ProofCertificate, signature: bytes) -> CertificateBody:
        return cls.model_validate(certificate.to_json(signature))


class AttestationRequest(_Body):
    """An agent's attestation with the proof behind it: a proof certificate (``proof``), or
    where an oracle does not require proofs, a plain challenge token (``challenge``)."""

    attestation: AttestationBody
    signature: Signature65
    challenge: ChallengeToken | None = None
    proof: CertificateBody | None = None


class GpuChallenge(_Body):
    """Which proof-of-compute challenge is for which GPU, and the bytes32 its attestation
    carries."""

    gpuKey: Bytes32
    challengeId: str
    challenge: Bytes32


class ProofChallenge(_Body):
    """``GET /v1/challenge`` with a claim: one proof-of-compute challenge per GPU."""

    issuer: Address
    batch: ChallengeBatch
    gpus: list[GpuChallenge]


class CommitRequest(_Body):
    batchId: str
    commitments: list[Commitment] = Field(min_length=1, max_length=1024)


class CommitResponse(_Body):
    requests: list[RevealRequest]


class RevealBody(_Body):
    batchId: str
    responses: list[RevealResponse] = Field(min_length=1, max_length=1024)


class RevealResult(_Body):
    results: list[ProofResult]
    certificates: list[CertificateBody]


class Approval(_Body):
    oracle: Address
    configVersion: int
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
    configVersion: int
    entries: list[Bundle]


class LivenessCosignRequest(_Body):
    configVersion: int
    epoch: int
    bitmap: Annotated[bytes, BeforeValidator(_hex_bytes(None)), _ser]


class CoSignature(_Body):
    oracle: Address
    signature: Signature65


class HeartbeatRequest(_Body):
    provider: Address
    agent: Address
    gpuKeys: list[Bytes32] = Field(max_length=256)
    epoch: int
    signature: Signature65

    def message(self) -> Heartbeat:
        return Heartbeat(self.provider, self.agent, tuple(self.gpuKeys), self.epoch)


class HeartbeatReceipt(_Body):
    epoch: int
    indices: list[int]


class Info(_Body):
    oracle: Address
    configVersion: int
    threshold: int
    oracles: list[Address]
    chainId: int
    attestationOracle: Address
    epochLength: int
    queue: dict[str, int]
    transmitter: bool = True
    allowSimulated: bool = False
    requireProof: bool = True
