"""Request and response bodies of the oracle's HTTP API."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from eth_utils import to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from depin.attestation import GpuAttestation, Heartbeat


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


class AttestationRequest(_Body):
    attestation: AttestationBody
    signature: Signature65
    challenge: ChallengeToken


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
