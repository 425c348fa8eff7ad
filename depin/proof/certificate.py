"""The oracle's certificate of a verified proof of compute, shared with the other oracles.

One oracle issues a GPU's challenge, takes its commitment and reveal and verifies it; only that
oracle holds the seed. It then signs a :class:`ProofCertificate` (EIP-712, under the
AttestationOracle's domain, never sent on-chain) naming the provider, agent, GPU, claimed model
and the proven int8 throughput. The agent hands the certificate to every oracle with its
attestation; each accepts a certificate signed by any oracle of the current config whose fields
equal the attestation's. ``challenge`` is the bytes32 the agent puts into its
``GpuAttestation``: it is derived from the proof-of-compute challenge (issuer, challenge id and
seed), so an attestation that oracles approve cannot exist without the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

from depin.eip712 import Domain, Message

__all__ = ["ProofCertificate", "attestation_challenge"]

_CHALLENGE_TAG = b"depin-poc/1/attestation-challenge"


def attestation_challenge(
    domain: Domain | bytes,
    issuer: str,
    challenge_id: str,
    seed: str,
    provider: str,
    agent: str,
    gpu_key: bytes,
) -> bytes:
    """The ``GpuAttestation.challenge`` of a proof-of-compute challenge for one GPU."""
    separator = domain if isinstance(domain, bytes) else domain.separator
    return bytes(
        keccak(
            _CHALLENGE_TAG
            + separator
            + bytes.fromhex(issuer[2:])
            + bytes.fromhex(challenge_id)
            + bytes.fromhex(seed)
            + bytes.fromhex(provider[2:])
            + bytes.fromhex(agent[2:])
            + gpu_key
        )
    )


@dataclass(frozen=True)
class ProofCertificate(Message):
    """An oracle's statement that ``gpu_key`` proved ``proven_int8_gops`` under ``challenge``."""

    PRIMARY_TYPE = "ProofCertificate"
    FIELDS = (
        ("issuer", "address"),
        ("provider", "address"),
        ("agent", "address"),
        ("gpuKey", "bytes32"),
        ("model", "bytes32"),
        ("challenge", "bytes32"),
        ("provenInt8Gops", "uint32"),
        ("verifiedAt", "uint64"),
        ("expiresAt", "uint64"),
    )

    issuer: str
    provider: str
    agent: str
    gpu_key: bytes
    model: bytes
    challenge: bytes
    proven_int8_gops: int
    verified_at: int
    expires_at: int

    def to_json(self, signature: bytes) -> dict[str, Any]:
        """The wire form: the message fields and the issuer's 65-byte signature."""
        return {**self.message_json(), "signature": "0x" + signature.hex()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> tuple[ProofCertificate, bytes]:
        """The certificate and its signature from :meth:`to_json`'s form."""
        body = {k: v for k, v in data.items() if k != "signature"}
        message = cls.from_message_json(body)
        assert isinstance(message, ProofCertificate)
        text = str(data["signature"])
        return message, bytes.fromhex(text[2:] if text.startswith("0x") else text)

    @property
    def issuer_address(self) -> str:
        return str(to_checksum_address(self.issuer))
