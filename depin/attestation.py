"""The attestation protocol: EIP-712 types signed by agents and oracles, packing, fast recovery.

Defined once for the agent (signer), the oracle (verifier and co-signer) and the contract's
clients. Each type string is the one ``contracts/AttestationOracle.sol`` declares beside its
typehash constant; a test checks that they agree with the deployed contract.

Message types:

- :class:`GpuAttestation`: signed by the agent, one per GPU.
- :class:`AttestationApproval`: an oracle's off-chain approval of one attestation (what the agent
  collects from t oracles and hands to a transmitter).
- :class:`AttestationBatch`: what t oracles co-sign for a whole ``submit`` transaction.
- :class:`Heartbeat`: signed by the agent for an epoch, naming the GPUs it runs and each one's
  :class:`GpuStatus` (available, healthy).
- :class:`LivenessReport`: the epoch's :class:`Liveness` bitmaps t oracles co-sign for
  ``recordLiveness``.
- :class:`GpuRevocation`: t oracles revoke one attestation.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from depin.crypto import SECP256K1_N, checksum_address, keccak, sign_digest
from depin.eip712 import Domain, Message, address_word
from depin.errors import SignatureError

__all__ = [
    "ALL_WELL",
    "NO_CAPABILITIES",
    "AttestationApproval",
    "AttestationBatch",
    "GpuAttestation",
    "GpuRevocation",
    "GpuStatus",
    "Heartbeat",
    "Liveness",
    "LivenessReport",
    "RejectReason",
    "bitmap_from_indices",
    "compact_signature",
    "expand_signature",
    "gpu_key",
    "model_bytes",
    "model_text",
    "sign_digest",
    "unpack_figures",
]

_U32 = (1 << 32) - 1


class RejectReason:
    """Why the contract skipped an entry (``IAttestationOracle.RejectReason``)."""

    NONE = 0
    EXPIRED = 1
    MEASURED_IN_FUTURE = 2
    STALE_MEASUREMENT = 3
    INVALID_AGENT_SIGNATURE = 4
    UNAUTHORIZED_AGENT = 5

    NAMES: ClassVar[dict[int, str]] = {
        0: "none",
        1: "expired",
        2: "measured_in_future",
        3: "stale_measurement",
        4: "invalid_agent_signature",
        5: "unauthorized_agent",
    }


def gpu_key(vendor: str, uuid: str) -> bytes:
    """The GPU's public key in the protocol: ``keccak256("<vendor>:<uuid>")``, both lower case.

    The raw UUID stays on the host; the chain and the inventory only see its hash.
    """
    if not uuid:
        raise ValueError("a GPU key needs the device's UUID")
    return keccak(f"{vendor.strip().lower()}:{uuid.strip().lower()}".encode())


def model_bytes(model_id: str) -> bytes:
    """A spec-table model id (``nvidia-h100-sxm5-80gb``) as a right-padded bytes32."""
    raw = model_id.encode("ascii")
    if len(raw) > 32:
        raise ValueError(f"model id {model_id!r} is longer than 32 bytes")
    return raw.ljust(32, b"\0")


def model_text(model: bytes) -> str:
    """The inverse of :func:`model_bytes`."""
    return model.rstrip(b"\0").decode("ascii", errors="replace")


def unpack_figures(figures: int) -> dict[str, int]:
    """The ``figures`` word of a ``GpuAttested`` event, by name."""
    return {
        "fp32_gflops": (figures >> 96) & _U32,
        "fp16_gflops": (figures >> 64) & _U32,
        "memory_bandwidth_gbps": (figures >> 32) & _U32,
        "proven_int8_gops": figures & _U32,
    }


def unpack_quorum(quorum: int) -> tuple[int, int]:
    """``(config version, signers bitmap)`` of a quorum word."""
    return quorum >> 224, quorum & ((1 << 224) - 1)


# ---------------------------------------------------------------------- signatures


def compact_signature(signature: bytes) -> tuple[bytes, bytes]:
    """EIP-2098: a 65-byte signature as ``(r, vs)`` with yParity in the top bit of ``s``."""
    if len(signature) != 65:
        raise SignatureError(f"a signature has 65 bytes, got {len(signature)}")
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    if s > SECP256K1_N // 2:
        raise SignatureError("signature s is in the upper half of the curve order")
    parity = v - 27 if v >= 27 else v
    if parity not in (0, 1):
        raise SignatureError(f"bad recovery id {v}")
    return r, (s | (parity << 255)).to_bytes(32, "big")


def expand_signature(r: bytes, vs: bytes) -> bytes:
    """The inverse of :func:`compact_signature`."""
    word = int.from_bytes(vs, "big")
    return r + (word & ((1 << 255) - 1)).to_bytes(32, "big") + bytes([27 + (word >> 255)])


# ---------------------------------------------------------------------- messages


_ATTESTATION_FIELDS: tuple[tuple[str, str], ...] = (
    ("provider", "address"),
    ("agent", "address"),
    ("gpuKey", "bytes32"),
    ("vendorId", "uint16"),
    ("model", "bytes32"),
    ("memoryBytes", "uint64"),
    ("fp32Gflops", "uint32"),
    ("fp16Gflops", "uint32"),
    ("memoryBandwidthGBps", "uint32"),
    ("provenInt8Gops", "uint32"),
    ("challenge", "bytes32"),
    ("measuredAt", "uint32"),
    ("expiresAt", "uint32"),
    ("capabilities", "bytes32"),
)

#: ``capabilities`` of an attestation that names no capability document.
NO_CAPABILITIES = bytes(32)


@dataclass(frozen=True)
class GpuAttestation(Message):
    """What an agent states about one GPU, signed with its hot key.

    ``fp32_gflops``, ``fp16_gflops`` and ``memory_bandwidth_gbps`` are the agent's own
    benchmark; ``proven_int8_gops`` is the int8 throughput of the proof-of-compute run under the
    oracle's ``challenge`` (the oracles check it; the contract only records it).
    ``capabilities`` is the keccak256 of the host's capability document
    (:mod:`depin.capabilities`), or zero when the agent sends none.
    """

    PRIMARY_TYPE = "GpuAttestation"
    FIELDS = _ATTESTATION_FIELDS

    provider: str
    agent: str
    gpu_key: bytes
    vendor_id: int
    model: bytes
    memory_bytes: int
    fp32_gflops: int
    fp16_gflops: int
    memory_bandwidth_gbps: int
    proven_int8_gops: int
    challenge: bytes
    measured_at: int
    expires_at: int
    capabilities: bytes = NO_CAPABILITIES

    def struct_hash(self) -> bytes:
        """Fast path of :meth:`Message.struct_hash` for the hottest type (checked equal by
        tests against the generic encoder and the contract)."""
        for raw in (self.gpu_key, self.model, self.challenge, self.capabilities):
            if len(raw) != 32:
                raise ValueError("gpuKey, model, challenge and capabilities have 32 bytes")
        numbers = (
            self.vendor_id, self.memory_bytes, self.fp32_gflops, self.fp16_gflops,
            self.memory_bandwidth_gbps, self.proven_int8_gops,
        )  # fmt: skip
        for value, bits in zip(numbers, (16, 64, 32, 32, 32, 32), strict=True):
            if not 0 <= value < 1 << bits:
                raise ValueError(f"{value} does not fit uint{bits}")
        if not (0 <= self.measured_at <= _U32 and 0 <= self.expires_at <= _U32):
            raise ValueError("measuredAt and expiresAt are uint32")
        return keccak(
            self.TYPEHASH
            + address_word(self.provider)
            + address_word(self.agent)
            + self.gpu_key
            + self.vendor_id.to_bytes(32, "big")
            + self.model
            + b"".join(v.to_bytes(32, "big") for v in numbers[1:])
            + self.challenge
            + self.measured_at.to_bytes(32, "big")
            + self.expires_at.to_bytes(32, "big")
            + self.capabilities
        )

    def words(self) -> tuple[bytes, int, int, bytes, int, bytes, bytes]:
        """The first seven words of ``SignedAttestation`` (everything but the signature)."""
        provider = int(self.provider, 16)
        agent = int(self.agent, 16)
        for name, value, bits in (
            ("measured_at", self.measured_at, 32),
            ("expires_at", self.expires_at, 32),
            ("vendor_id", self.vendor_id, 16),
            ("memory_bytes", self.memory_bytes, 64),
            ("fp32_gflops", self.fp32_gflops, 32),
            ("fp16_gflops", self.fp16_gflops, 32),
            ("memory_bandwidth_gbps", self.memory_bandwidth_gbps, 32),
            ("proven_int8_gops", self.proven_int8_gops, 32),
        ):
            if not 0 <= value < 1 << bits:
                raise ValueError(f"{name}={value} does not fit {bits} bits")
        subject = (provider << 96) | (self.measured_at << 64) | (self.expires_at << 32)
        device = (agent << 96) | (self.vendor_id << 80) | (self.memory_bytes << 16)
        figures = (
            (self.fp32_gflops << 96)
            | (self.fp16_gflops << 64)
            | (self.memory_bandwidth_gbps << 32)
            | self.proven_int8_gops
        )
        if len(self.capabilities) != 32:
            raise ValueError("capabilities has 32 bytes")
        return (
            self.gpu_key,
            subject,
            device,
            self.model,
            figures,
            self.challenge,
            self.capabilities,
        )

    def packed(self, signature: bytes) -> tuple[Any, ...]:
        """The ``SignedAttestation`` tuple for ``submit`` with the agent's 65-byte signature."""
        r, vs = compact_signature(signature)
        return (*self.words(), r, vs)

    @classmethod
    def from_packed(cls, packed: Sequence[Any]) -> tuple[GpuAttestation, bytes]:
        """The message and 65-byte signature of a ``SignedAttestation`` tuple."""
        gpu, subject, device, model, figures, challenge, capabilities, r, vs = packed
        message = cls(
            provider=checksum_address((int(subject) >> 96).to_bytes(20, "big")),
            agent=checksum_address((int(device) >> 96).to_bytes(20, "big")),
            gpu_key=bytes(gpu),
            vendor_id=(int(device) >> 80) & 0xFFFF,
            model=bytes(model),
            memory_bytes=(int(device) >> 16) & ((1 << 64) - 1),
            fp32_gflops=(int(figures) >> 96) & _U32,
            fp16_gflops=(int(figures) >> 64) & _U32,
            memory_bandwidth_gbps=(int(figures) >> 32) & _U32,
            proven_int8_gops=int(figures) & _U32,
            challenge=bytes(challenge),
            measured_at=(int(subject) >> 64) & _U32,
            expires_at=(int(subject) >> 32) & _U32,
            capabilities=bytes(capabilities),
        )
        return message, expand_signature(bytes(r), bytes(vs))


_NESTED = GpuAttestation.TYPE_STRING


@dataclass(frozen=True)
class AttestationApproval(Message):
    """An oracle's approval of one attestation under an oracle config (never sent on-chain)."""

    PRIMARY_TYPE = "AttestationApproval"
    FIELDS = (("configVersion", "uint32"), ("attestation", "GpuAttestation"))

    config_version: int
    attestation: GpuAttestation

    def struct_hash(self) -> bytes:
        return keccak(
            self.TYPEHASH + self.config_version.to_bytes(32, "big") + self.attestation.struct_hash()
        )

    def message_json(self) -> dict[str, Any]:
        return {
            "configVersion": self.config_version,
            "attestation": self.attestation.message_json(),
        }

    def typed_data(self, domain: Domain) -> dict[str, Any]:
        data = super().typed_data(domain)
        data["types"]["GpuAttestation"] = [{"name": n, "type": t} for n, t in _ATTESTATION_FIELDS]
        return data


@dataclass(frozen=True)
class AttestationBatch(Message):
    """What t oracles co-sign for one ``submit``: the config version and every attestation."""

    PRIMARY_TYPE = "AttestationBatch"
    FIELDS = (("configVersion", "uint32"), ("attestations", "GpuAttestation[]"))

    config_version: int
    attestations: tuple[GpuAttestation, ...]

    def struct_hash(self) -> bytes:
        entries = keccak(b"".join(a.struct_hash() for a in self.attestations))
        return keccak(self.TYPEHASH + self.config_version.to_bytes(32, "big") + entries)

    @staticmethod
    def digest_from_struct_hashes(
        domain: Domain, config_version: int, struct_hashes: Iterable[bytes]
    ) -> bytes:
        """The batch digest from precomputed attestation struct hashes."""
        entries = keccak(b"".join(struct_hashes))
        inner = keccak(AttestationBatch.TYPEHASH + config_version.to_bytes(32, "big") + entries)
        return keccak(b"\x19\x01" + domain.separator + inner)

    def message_json(self) -> dict[str, Any]:
        return {
            "configVersion": self.config_version,
            "attestations": [a.message_json() for a in self.attestations],
        }

    def typed_data(self, domain: Domain) -> dict[str, Any]:
        data = super().typed_data(domain)
        data["types"]["GpuAttestation"] = [{"name": n, "type": t} for n, t in _ATTESTATION_FIELDS]
        return data


class GpuStatus(enum.IntFlag):
    """What a heartbeat says of one GPU besides "up": one byte per GPU in ``Heartbeat.status``.

    ``AVAILABLE``: no compute process holds the GPU. ``HEALTHY``: no uncorrectable ECC error, no
    pending row remap or page retirement, no XID error since the last heartbeat, no thermal or
    power throttling past the agent's threshold.
    """

    NONE = 0
    AVAILABLE = 1
    HEALTHY = 2


ALL_WELL = GpuStatus.AVAILABLE | GpuStatus.HEALTHY


@dataclass(frozen=True)
class Heartbeat(Message):
    """An agent's statement that the listed GPUs are up in ``epoch`` (valid only in it), with one
    :class:`GpuStatus` byte per GPU in ``status`` (same order as ``gpu_keys``)."""

    PRIMARY_TYPE = "Heartbeat"
    FIELDS = (
        ("provider", "address"),
        ("agent", "address"),
        ("gpuKeys", "bytes32[]"),
        ("epoch", "uint64"),
        ("status", "bytes"),
    )

    provider: str
    agent: str
    gpu_keys: tuple[bytes, ...]
    epoch: int
    status: bytes

    def struct_hash(self) -> bytes:
        for key in self.gpu_keys:
            if len(key) != 32:
                raise ValueError("a GPU key has 32 bytes")
        if len(self.status) != len(self.gpu_keys):
            raise ValueError("a heartbeat has one status byte per GPU key")
        return keccak(
            self.TYPEHASH
            + address_word(self.provider)
            + address_word(self.agent)
            + keccak(b"".join(self.gpu_keys))
            + self.epoch.to_bytes(32, "big")
            + keccak(self.status)
        )

    def statuses(self) -> dict[bytes, GpuStatus]:
        """Each GPU key's status (unknown bits dropped)."""
        return {
            key: GpuStatus(flags & ALL_WELL)
            for key, flags in zip(self.gpu_keys, self.status, strict=True)
        }

    def message_json(self) -> dict[str, Any]:
        return {
            "provider": checksum_address(self.provider),
            "agent": checksum_address(self.agent),
            "gpuKeys": ["0x" + k.hex() for k in self.gpu_keys],
            "epoch": self.epoch,
            "status": "0x" + self.status.hex(),
        }


@dataclass(frozen=True)
class Liveness:
    """One epoch's three bitmaps over GPU indexes (bit i: byte i/8, mask 0x80 >> i%8), trailing
    zero bytes left out: ``online``, and within it ``available`` and ``healthy``."""

    online: bytes = b""
    available: bytes = b""
    healthy: bytes = b""

    @classmethod
    def from_statuses(
        cls, statuses: dict[int, GpuStatus], gpu_count: int | None = None
    ) -> Liveness:
        """The bitmaps of ``GPU index -> status``; every index given is online. With
        ``gpu_count``, an index past the attested GPUs is refused (``ValueError``)."""
        if not statuses:
            return cls()
        count = max(statuses) + 1 if gpu_count is None else gpu_count
        return cls(
            bitmap_from_indices(statuses, count),
            bitmap_from_indices((i for i, s in statuses.items() if s & GpuStatus.AVAILABLE), count),
            bitmap_from_indices((i for i, s in statuses.items() if s & GpuStatus.HEALTHY), count),
        )

    def statuses(self) -> dict[int, GpuStatus]:
        """``GPU index -> status`` for every online index."""
        available = set(indices_from_bitmap(self.available))
        healthy = set(indices_from_bitmap(self.healthy))
        return {
            i: (GpuStatus.AVAILABLE if i in available else GpuStatus.NONE)
            | (GpuStatus.HEALTHY if i in healthy else GpuStatus.NONE)
            for i in indices_from_bitmap(self.online)
        }

    def as_tuple(self) -> tuple[bytes, bytes, bytes]:
        """The contract's ``Liveness`` struct."""
        return (self.online, self.available, self.healthy)


@dataclass(frozen=True)
class LivenessReport(Message):
    """One epoch's :class:`Liveness`, co-signed by t oracles for ``recordLiveness``."""

    PRIMARY_TYPE = "LivenessReport"
    FIELDS = (
        ("configVersion", "uint32"),
        ("epoch", "uint64"),
        ("online", "bytes"),
        ("available", "bytes"),
        ("healthy", "bytes"),
    )

    config_version: int
    epoch: int
    online: bytes
    available: bytes
    healthy: bytes

    @classmethod
    def of(cls, config_version: int, epoch: int, liveness: Liveness) -> LivenessReport:
        return cls(config_version, epoch, *liveness.as_tuple())


@dataclass(frozen=True)
class GpuRevocation(Message):
    """t oracles revoke the attestation of ``gpu_key`` measured at ``measured_at``."""

    PRIMARY_TYPE = "GpuRevocation"
    FIELDS = (("configVersion", "uint32"), ("gpuKey", "bytes32"), ("measuredAt", "uint32"))

    config_version: int
    gpu_key: bytes
    measured_at: int


# Types that reference GpuAttestation append its type string (EIP-712 encodeType); the base class
# derives only flat type strings, so these are set after the class is made.
AttestationApproval.TYPE_STRING = (
    f"AttestationApproval(uint32 configVersion,GpuAttestation attestation){_NESTED}"
)
AttestationBatch.TYPE_STRING = (
    f"AttestationBatch(uint32 configVersion,GpuAttestation[] attestations){_NESTED}"
)
for _type in (AttestationApproval, AttestationBatch, Heartbeat):
    _type.TYPEHASH = keccak(_type.TYPE_STRING.encode())

ATTESTATION_MESSAGES: dict[str, type[Message]] = {
    m.PRIMARY_TYPE: m
    for m in (
        GpuAttestation,
        AttestationApproval,
        AttestationBatch,
        Heartbeat,
        LivenessReport,
        GpuRevocation,
    )
}


def bitmap_from_indices(indices: Iterable[int], gpu_count: int) -> bytes:
    """The liveness bitmap with the bits of ``indices`` set (bit i: byte i/8, mask 0x80>>i%8)."""
    out = bytearray((gpu_count + 7) // 8)
    for i in indices:
        if not 0 <= i < gpu_count:
            raise ValueError(f"GPU index {i} is outside 0..{gpu_count - 1}")
        out[i >> 3] |= 0x80 >> (i & 7)
    # Trailing zero bytes cost calldata for nothing.
    return bytes(out).rstrip(b"\0")


def indices_from_bitmap(bitmap: bytes) -> list[int]:
    """The GPU indices whose bits are set."""
    return [i for i in range(len(bitmap) * 8) if bitmap[i >> 3] & (0x80 >> (i & 7))]


def sort_signatures(signed: Iterable[tuple[str, bytes]]) -> list[tuple[bytes, bytes]]:
    """``(signer, 65-byte signature)`` pairs as the contract wants them: compact, ascending."""
    ordered = sorted(signed, key=lambda pair: int(pair[0], 16))
    return [compact_signature(sig) for _, sig in ordered]
