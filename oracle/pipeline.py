"""The verification pipeline: what an oracle checks before it signs anything.

Attestation: schema -> agent EIP-712 signature -> on-chain authorization (cached per block) ->
challenge issued by this network, unexpired, unused -> plausibility against the spec table ->
approval signed. Every refusal is a :class:`~oracle.errors.Refusal` with a stable code.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import coincurve
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from depin.attestation import (
    AttestationApproval,
    AttestationBatch,
    GpuAttestation,
    LivenessReport,
    fast_keccak,
    fast_recover,
    indices_from_bitmap,
    model_text,
    recover_bytes,
    same_address,
    sign_digest,
)
from depin.attestation_client import OracleConfig
from depin.eip712 import Domain
from depin.errors import SignatureError
from depin.simulation import is_simulated
from oracle.errors import Refusal
from oracle.models import known_model
from oracle.schemas import (
    Approval,
    AttestationRequest,
    Bundle,
    CertificateBody,
    ChallengeToken,
    HeartbeatRequest,
)
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
    ) -> None:
        self.account = account
        self.address = account.address
        self._key = bytes(account.key)
        self._signer = coincurve.PrivateKey(self._key)
        self.domain = domain
        self._separator = domain.separator  # precomputed: hashing it costs five keccaks
        self.config = config
        self.authorizer = authorizer
        self.store = store
        self.limits = limits or Limits()
        self.clock = clock

    def _digest(self, struct_hash: bytes) -> bytes:
        return fast_keccak(b"\x19\x01" + self._separator + struct_hash)

    def _sign(self, digest: bytes) -> bytes:
        raw = self._signer.sign_recoverable(digest, hasher=None)
        return raw[:64] + bytes([raw[64] + 27])

    # ------------------------------------------------------------------ challenges

    def issue_challenge(self) -> ChallengeToken:
        now = int(self.clock())
        nonce = secrets.token_bytes(32)
        expires = now + self.limits.challenge_ttl_s
        digest = challenge_hash(self._separator, self.address, nonce, now, expires)
        return ChallengeToken(
            issuer=self.address,
            nonce=nonce,
            issuedAt=now,
            expiresAt=expires,
            challenge=digest,
            signature=self._sign(digest),
        )

    def _check_challenge(self, token: ChallengeToken, message: GpuAttestation) -> bytes:
        """Issued by an oracle of this network, carried by the attestation, unexpired; returns
        the challenge (its single use is recorded with the approval)."""
        expected = challenge_hash(
            self._separator, token.issuer, token.nonce, token.issuedAt, token.expiresAt
        )
        if expected != token.challenge or message.challenge != expected:
            raise Refusal("challenge_mismatch", "the attestation does not carry this challenge")
        try:
            signer = recover_bytes(expected, token.signature)
        except SignatureError:
            signer = b""
        if not same_address(token.issuer, signer) or token.issuer not in self.config().oracles:
            raise Refusal(
                "unknown_challenge", "the challenge was not issued by an oracle of this network"
            )
        if token.expiresAt <= self.clock():
            raise Refusal("challenge_expired", f"the challenge expired at {token.expiresAt}")
        return expected

    # ------------------------------------------------------------------ attestations

    def check_attestation(self, request: AttestationRequest) -> tuple[GpuAttestation, bytes]:
        """Every check but the single-use challenge; returns the message and its digest."""
        message = request.attestation.message()
        digest = self._digest(message.struct_hash())
        try:
            signer = recover_bytes(digest, request.signature)
        except SignatureError as exc:
            raise Refusal("invalid_agent_signature", str(exc)) from None
        if not same_address(message.agent, signer):
            raise Refusal("invalid_agent_signature", f"the signature is not {message.agent}'s")
        if not self.authorizer(message.provider, message.agent):
            raise Refusal(
                "unauthorized_agent",
                f"{message.agent} is not an authorized agent of {message.provider} "
                "(never authorized, revoked or expired)",
                status=403,
            )
        self._check_times(message)
        self._check_plausible(message)
        return message, digest

    def approve(self, request: AttestationRequest) -> Approval:
        message, digest = self.check_attestation(request)
        if request.proof is not None:
            challenge = self._check_proof(request.proof, message)
        elif self.limits.require_proof:
            raise Refusal(
                "proof_required",
                "this oracle approves only attestations with a proof-of-compute certificate: "
                "ask GET /v1/challenge with the claim, prove, and send the certificate as `proof`",
            )
        elif request.challenge is None:
            raise Refusal("malformed_request", "an attestation needs `proof` or `challenge`")
        else:
            challenge = self._check_challenge(request.challenge, message)
        version = self.config().version
        approval = AttestationApproval(version, message)
        signature = self.store.use_challenge_and_approve(
            challenge, digest, version, lambda: self._sign(self._digest(approval.struct_hash()))
        )
        if signature is None:
            raise Refusal(
                "challenge_replayed", "the challenge was already used by another attestation"
            )
        return Approval(oracle=self.address, configVersion=version, signature=signature)

    def _check_proof(self, proof: CertificateBody, message: GpuAttestation) -> bytes:
        """A proof certificate signed by any oracle of the current config, unexpired, whose
        fields are the attestation's; returns the challenge (single use, as for tokens)."""
        certificate = proof.message()
        try:
            signer = recover_bytes(certificate.digest(self.domain), proof.signature)
        except SignatureError:
            signer = b""
        if not same_address(proof.issuer, signer) or proof.issuer not in self.config().oracles:
            raise Refusal(
                "invalid_proof",
                "the proof certificate is not signed by an oracle of the current config",
            )
        if certificate.expires_at <= self.clock():
            raise Refusal(
                "invalid_proof", f"the proof certificate expired at {certificate.expires_at}"
            )
        for name, proven, attested in (
            ("provider", certificate.provider, message.provider),
            ("agent", certificate.agent, message.agent),
            ("gpuKey", certificate.gpu_key, message.gpu_key),
            ("model", certificate.model, message.model),
            ("challenge", certificate.challenge, message.challenge),
            ("provenInt8Gops", certificate.proven_int8_gops, message.proven_int8_gops),
        ):
            if proven != attested:
                raise Refusal(
                    "proof_mismatch",
                    f"the attestation's {name} is not the one the proof certificate covers",
                )
        return message.challenge

    def _check_times(self, m: GpuAttestation) -> None:
        now = self.clock()
        if m.measured_at > now + self.limits.max_clock_skew_s:
            raise Refusal(
                "measured_in_future", f"measuredAt {m.measured_at} is ahead of {int(now)}"
            )
        if m.expires_at <= now or m.expires_at - m.measured_at > self.limits.max_validity_s:
            raise Refusal(
                "bad_validity",
                "expiresAt must be in the future and within "
                f"{self.limits.max_validity_s}s of measuredAt",
            )

    def _check_plausible(self, m: GpuAttestation) -> None:
        """The spec table's figures for the model (for a ``sim:`` model, those of the model it
        simulates, except the proven-throughput floor: its proof ran at CPU parameters)."""
        model_id = model_text(m.model)
        simulated = is_simulated(model_id)
        spec = known_model(model_id, allow_simulated=self.limits.allow_simulated)
        if spec.vendor_id != m.vendor_id:
            raise Refusal(
                "vendor_mismatch",
                f"{model_id} is made by {spec.vendor_id:#06x}, not {m.vendor_id:#06x}",
            )
        low, high = MEMORY_TOLERANCE
        if not low * spec.memory_bytes <= m.memory_bytes <= high * spec.memory_bytes:
            raise Refusal(
                "implausible_memory",
                f"{spec.name} has {spec.memory_bytes / 2**30:.0f} GiB, "
                f"the attestation says {m.memory_bytes / 2**30:.1f} GiB",
            )
        for name, value, peak in (
            ("provenInt8Gops", m.proven_int8_gops, spec.int8_tops),
            ("fp16Gflops", m.fp16_gflops, spec.fp16_tflops),
            ("fp32Gflops", m.fp32_gflops, spec.fp32_tflops),
        ):
            if peak is not None and value > peak * 1000 * PEAK_MARGIN:
                raise Refusal(
                    "throughput_above_peak",
                    f"{name} {value} is above {spec.name}'s published peak "
                    f"{peak * 1000:.0f} x {PEAK_MARGIN}",
                )
        if (
            not simulated
            and spec.int8_tops is not None
            and m.proven_int8_gops < spec.int8_tops * 1000 * FLOOR_FRACTION
        ):
            raise Refusal(
                "throughput_below_floor",
                f"provenInt8Gops {m.proven_int8_gops} is below "
                f"{FLOOR_FRACTION:.0%} of {spec.name}'s peak",
            )

    # ------------------------------------------------------------------ bundles and batches

    def check_bundle(self, bundle: Bundle) -> tuple[GpuAttestation, bytes]:
        """A bundle for the transmitter: the agent's signature and t current oracles' approvals."""
        message = bundle.attestation.message()
        digest = message.digest(self.domain)
        try:
            if fast_recover(digest, bundle.signature) != message.agent:
                raise Refusal("invalid_agent_signature", f"the signature is not {message.agent}'s")
        except SignatureError as exc:
            raise Refusal("invalid_agent_signature", str(exc)) from None
        config = self.config()
        approval_digest = AttestationApproval(config.version, message).digest(self.domain)
        signers = set()
        for approval in bundle.approvals:
            if approval.configVersion != config.version:
                continue
            try:
                signer = fast_recover(approval_digest, approval.signature)
            except SignatureError:
                continue
            if signer == approval.oracle and signer in config.oracles:
                signers.add(signer)
        if len(signers) < config.threshold:
            raise Refusal(
                "insufficient_approvals",
                f"{len(signers)} valid approvals under config {config.version}, "
                f"{config.threshold} needed",
            )
        return message, digest

    def cosign_batch(self, config_version: int, messages: list[GpuAttestation]) -> bytes:
        """Signs a batch digest when this oracle approved every entry under that config."""
        if config_version != self.config().version:
            raise Refusal(
                "wrong_config_version", f"config {config_version} is not current", status=409
            )
        hashes = []
        for m in messages:
            h = m.struct_hash()
            digest = keccak(b"\x19\x01" + self._separator + h)
            if self.store.approval(digest, config_version) is None:
                raise Refusal(
                    "not_approved",
                    f"this oracle has not approved GPU 0x{m.gpu_key.hex()}",
                    status=409,
                )
            hashes.append(h)
        batch = AttestationBatch.digest_from_struct_hashes(self.domain, config_version, hashes)
        return self._sign(batch)

    # ------------------------------------------------------------------ heartbeats and liveness

    def check_heartbeat(self, request: HeartbeatRequest, epoch_now: int) -> None:
        message = request.message()
        try:
            signer = fast_recover(message.digest(self.domain), request.signature)
        except SignatureError as exc:
            raise Refusal("invalid_agent_signature", str(exc)) from None
        if signer != message.agent:
            raise Refusal("invalid_agent_signature", f"the signature is not {message.agent}'s")
        if request.epoch not in (epoch_now, epoch_now - 1):
            raise Refusal(
                "stale_epoch", f"epoch {request.epoch} is not the current epoch {epoch_now}"
            )
        if not self.authorizer(message.provider, message.agent):
            raise Refusal(
                "unauthorized_agent",
                f"{message.agent} is not authorized by {message.provider}",
                status=403,
            )

    def cosign_liveness(self, config_version: int, epoch: int, bitmap: bytes) -> bytes:
        """Signs a liveness bitmap when this oracle saw every GPU it marks online."""
        if config_version != self.config().version:
            raise Refusal(
                "wrong_config_version", f"config {config_version} is not current", status=409
            )
        unseen = set(indices_from_bitmap(bitmap)) - self.store.seen(epoch)
        if unseen:
            raise Refusal(
                "not_approved",
                f"no heartbeat seen for GPU indices {sorted(unseen)[:8]}",
                status=409,
            )
        return sign_digest(
            self._key, LivenessReport(config_version, epoch, bitmap).digest(self.domain)
        )
