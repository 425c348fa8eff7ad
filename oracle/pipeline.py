"""The verification pipeline: what an oracle checks before it signs anything.

Attestation: schema -> agent EIP-712 signature -> on-chain authorization (cached per block) ->
challenge issued by this network, unexpired, unused -> plausibility against the spec table ->
the capability document, when the attestation names one -> approval signed. Every refusal is
its own :class:`~oracle.errors.Refusal` with a stable code.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from depin.attestation import (
    AttestationApproval,
    AttestationBatch,
    GpuAttestation,
    model_text,
)
from depin.attestation_client import OracleConfig
from depin.crypto import DigestSigner, keccak, recover, recover_bytes, same_address
from depin.eip712 import Domain
from depin.errors import SignatureError
from depin.simulation import is_simulated
from depin.wire import (
    Approval,
    AttestationRequest,
    Bundle,
    CertificateBody,
    ChallengeToken,
)
from oracle.capabilities import check_capabilities
from oracle.errors import (
    BadValidity,
    ChallengeExpired,
    ChallengeMismatch,
    ChallengeReplayed,
    ImplausibleMemory,
    InsufficientApprovals,
    InvalidAgentSignature,
    InvalidProof,
    MalformedRequest,
    MeasuredInFuture,
    MissingFigure,
    NotApproved,
    ProofMismatch,
    ProofRequired,
    ThroughputAbovePeak,
    ThroughputBelowFloor,
    UnauthorizedAgent,
    UnknownChallenge,
    VendorMismatch,
    WrongConfigVersion,
)
from oracle.known_models import known_model
from oracle.store import Store

PEAK_MARGIN = 1.05
"""A measured figure may exceed the published peak by this factor (boost clocks), no more."""
FLOOR_FRACTION = 0.05
"""A proven int8 throughput under this fraction of the peak is not that GPU (or not working)."""
MEMORY_TOLERANCE = (0.90, 1.02)
"""Drivers report a little less memory than marketed; more than 2% above is another model."""


@dataclass(frozen=True)
class Limits:
    challenge_ttl_s: int = 600
    max_validity_s: int = 7 * 86400
    max_clock_skew_s: int = 300
    require_proof: bool = False
    allow_simulated: bool = False


def _giga(tera: float | None) -> float | None:
    """A spec table figure in T(FL)OPS as G(FL)OPS, the attestation's unit."""
    return None if tera is None else tera * 1000


def challenge_hash(
    domain: Domain | bytes, issuer: str, nonce: bytes, issued_at: int, expires_at: int
) -> bytes:
    """The bytes32 an agent puts in its attestation for a challenge token."""
    separator = domain if isinstance(domain, bytes) else domain.separator
    return keccak(
        b"depin.challenge.v1"
        + separator
        + bytes.fromhex(issuer[2:])
        + nonce
        + issued_at.to_bytes(8, "big")
        + expires_at.to_bytes(8, "big")
    )


class Pipeline:
    """Checks and signs for one oracle key. Chain reads are injected (authorizer, config)."""

    def __init__(
        self,
        account: LocalAccount,
        domain: Domain,
        config: Callable[[], OracleConfig],
        authorizer: Callable[[str, str], bool],
        store: Store,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
        gpu_provider: Callable[[bytes], str | None] | None = None,
    ) -> None:
        self.account = account
        self.address = account.address
        self._key = bytes(account.key)
        self._signer = DigestSigner(self._key)
        self.domain = domain
        self._separator = domain.separator  # precomputed: hashing it costs five keccaks
        self.config = config
        self.authorizer = authorizer
        self.store = store
        self.limits = limits or Limits()
        self.clock = clock
        #: the provider of a GPU's current attestation on the chain (capability documents)
        self.gpu_provider = gpu_provider

    def _digest(self, struct_hash: bytes) -> bytes:
        return keccak(b"\x19\x01" + self._separator + struct_hash)

    def _sign(self, digest: bytes) -> bytes:
        return self._signer.sign(digest)

    # ------------------------------------------------------------------ challenges

    def issue_challenge(self) -> ChallengeToken:
        now = int(self.clock())
        nonce = secrets.token_bytes(32)
        expires = now + self.limits.challenge_ttl_s
        digest = challenge_hash(self._separator, self.address, nonce, now, expires)
        return ChallengeToken(
            issuer=self.address,
            nonce=nonce,
            issued_at=now,
            expires_at=expires,
            challenge=digest,
            signature=self._sign(digest),
        )

    def _check_challenge(self, token: ChallengeToken, message: GpuAttestation) -> bytes:
        """Issued by an oracle of this network, carried by the attestation, unexpired; returns
        the challenge (its single use is recorded with the approval)."""
        expected = challenge_hash(
            self._separator, token.issuer, token.nonce, token.issued_at, token.expires_at
        )
        if expected != token.challenge or message.challenge != expected:
            raise ChallengeMismatch()
        try:
            signer = recover_bytes(expected, token.signature)
        except SignatureError:
            signer = b""
        if not same_address(token.issuer, signer) or token.issuer not in self.config().oracles:
            raise UnknownChallenge("the challenge was not issued by an oracle of this network")
        if token.expires_at <= self.clock():
            raise ChallengeExpired(token.expires_at)
        return expected

    # ------------------------------------------------------------------ attestations

    def check_attestation(self, request: AttestationRequest) -> tuple[GpuAttestation, bytes]:
        """Every check but the single-use challenge; returns the message and its digest."""
        message = request.attestation.message()
        digest = self._digest(message.struct_hash())
        InvalidAgentSignature.check(message.agent, digest, request.signature)
        if not self.authorizer(message.provider, message.agent):
            raise UnauthorizedAgent(message.provider, message.agent)
        self._check_times(message)
        self._check_plausible(message)
        check_capabilities(message, request.capabilities, self.gpu_provider)
        return message, digest

    def approve(self, request: AttestationRequest) -> Approval:
        message, digest = self.check_attestation(request)
        if request.proof is not None:
            challenge = self._check_proof(request.proof, message)
        elif self.limits.require_proof:
            raise ProofRequired()
        elif request.challenge is None:
            raise MalformedRequest("an attestation needs `proof` or `challenge`")
        else:
            challenge = self._check_challenge(request.challenge, message)
        version = self.config().version
        approval = AttestationApproval(version, message)
        signature = self.store.use_challenge_and_approve(
            challenge, digest, version, lambda: self._sign(self._digest(approval.struct_hash()))
        )
        if signature is None:
            raise ChallengeReplayed()
        return Approval(oracle=self.address, config_version=version, signature=signature)

    def _check_proof(self, proof: CertificateBody, message: GpuAttestation) -> bytes:
        """A proof certificate signed by any oracle of the current config, unexpired, whose
        fields are the attestation's; returns the challenge (single use, as for tokens)."""
        certificate = proof.message()
        try:
            signer = recover_bytes(certificate.digest(self.domain), proof.signature)
        except SignatureError:
            signer = b""
        if not same_address(proof.issuer, signer) or proof.issuer not in self.config().oracles:
            raise InvalidProof(
                "the proof certificate is not signed by an oracle of the current config"
            )
        if certificate.expires_at <= self.clock():
            raise InvalidProof(f"the proof certificate expired at {certificate.expires_at}")
        for name, proven, attested in (
            ("provider", certificate.provider, message.provider),
            ("agent", certificate.agent, message.agent),
            ("gpuKey", certificate.gpu_key, message.gpu_key),
            ("model", certificate.model, message.model),
            ("challenge", certificate.challenge, message.challenge),
            ("provenInt8Gops", certificate.proven_int8_gops, message.proven_int8_gops),
        ):
            if proven != attested:
                raise ProofMismatch(name)
        return message.challenge

    def _check_times(self, m: GpuAttestation) -> None:
        now = self.clock()
        if m.measured_at > now + self.limits.max_clock_skew_s:
            raise MeasuredInFuture(m.measured_at, int(now))
        if m.expires_at <= now or m.expires_at - m.measured_at > self.limits.max_validity_s:
            raise BadValidity(self.limits.max_validity_s)

    def _check_plausible(self, m: GpuAttestation) -> None:
        """The spec table's figures for the model (for a ``sim:`` model, those of the model it
        simulates, except the proven-throughput floor: its proof ran at CPU parameters)."""
        model_id = model_text(m.model)
        simulated = is_simulated(model_id)
        spec = known_model(model_id, allow_simulated=self.limits.allow_simulated)
        if spec.vendor_id != m.vendor_id:
            raise VendorMismatch(model_id, spec.vendor_id, m.vendor_id)
        low, high = MEMORY_TOLERANCE
        if not low * spec.memory_bytes <= m.memory_bytes <= high * spec.memory_bytes:
            raise ImplausibleMemory(spec.name, spec.memory_bytes, m.memory_bytes)
        for name, value, peak in (
            ("provenInt8Gops", m.proven_int8_gops, _giga(spec.int8_tops)),
            ("fp16Gflops", m.fp16_gflops, _giga(spec.fp16_tflops)),
            ("fp32Gflops", m.fp32_gflops, _giga(spec.fp32_tflops)),
            ("memoryBandwidthGBps", m.memory_bandwidth_gbps, spec.memory_bandwidth_gbps),
        ):
            # The proven figure has its own floor (and a simulated GPU's CPU proof rounds to 0).
            if value <= 0 and name != "provenInt8Gops":
                raise MissingFigure(name)
            if peak is not None and value > peak * PEAK_MARGIN:
                raise ThroughputAbovePeak(name, value, spec.name, peak, PEAK_MARGIN)
        if (
            not simulated
            and spec.int8_tops is not None
            and m.proven_int8_gops < spec.int8_tops * 1000 * FLOOR_FRACTION
        ):
            raise ThroughputBelowFloor(m.proven_int8_gops, spec.name, FLOOR_FRACTION)

    # ------------------------------------------------------------------ bundles and batches

    def check_bundle(self, bundle: Bundle) -> tuple[GpuAttestation, bytes]:
        """A bundle for the transmitter: the agent's signature and t current oracles' approvals."""
        message = bundle.attestation.message()
        digest = message.digest(self.domain)
        try:
            if recover(digest, bundle.signature) != message.agent:
                raise InvalidAgentSignature(message.agent)
        except SignatureError as exc:
            raise InvalidAgentSignature(message.agent, str(exc)) from None
        config = self.config()
        approval_digest = AttestationApproval(config.version, message).digest(self.domain)
        signers = set()
        for approval in bundle.approvals:
            if approval.config_version != config.version:
                continue
            try:
                signer = recover(approval_digest, approval.signature)
            except SignatureError:
                continue
            if signer == approval.oracle and signer in config.oracles:
                signers.add(signer)
        if len(signers) < config.threshold:
            raise InsufficientApprovals(len(signers), config.threshold, config.version)
        return message, digest

    def cosign_batch(self, config_version: int, messages: list[GpuAttestation]) -> bytes:
        """Signs a batch digest when this oracle approved every entry under that config."""
        if config_version != self.config().version:
            raise WrongConfigVersion(config_version)
        hashes = []
        for m in messages:
            h = m.struct_hash()
            digest = keccak(b"\x19\x01" + self._separator + h)
            if self.store.approval(digest, config_version) is None:
                raise NotApproved(f"this oracle has not approved GPU 0x{m.gpu_key.hex()}")
            hashes.append(h)
        batch = AttestationBatch.digest_from_struct_hashes(self.domain, config_version, hashes)
        return self._sign(batch)
