"""Proof of compute behind the oracle's HTTP API: challenges per GPU, commitments, reveals,
and the signed certificate that every oracle of the network accepts.

The issuing oracle alone holds a challenge's seed, so it alone verifies the reveal. It then
signs a :class:`~depin.proof.certificate.ProofCertificate` per GPU; any oracle approves an
attestation whose fields match a certificate signed by an oracle of the current config
(:meth:`oracle.pipeline.Pipeline.approve`; ``docs/proof-of-compute.md``, section 8).

Challenges and their claims live in a :class:`~oracle.proof.ChallengeStore`, stored together in
one step; the node passes one in its SQLite file, so a challenge outlives a restart of the oracle
and is never left without what it was issued for.

Simulated GPUs (``sim:`` models, dev chains only) prove at CPU parameters with a fixed deadline
instead of one derived from the model's peak.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from depin.attestation import model_bytes
from depin.attestation_client import OracleConfig
from depin.crypto import DigestSigner
from depin.eip712 import Domain
from depin.proof import (
    CPU_PARAMS,
    PRODUCTION_PARAMS,
    Challenge,
    ChallengeBatch,
    Commitment,
    ProofParams,
    ProofResult,
    RevealRequest,
    RevealResponse,
)
from depin.proof.certificate import ProofCertificate, attestation_challenge
from depin.simulation import is_simulated
from oracle.errors import MalformedRequest, UnknownChallenge, UnknownModel
from oracle.known_models import known_model
from oracle.proof import (
    PRODUCTION_POLICY,
    ChallengeIssuer,
    ChallengeStore,
    InMemoryChallengeStore,
    IssuerPolicy,
    ProofVerifier,
)

_U32 = (1 << 32) - 1
MAX_GPUS_PER_CHALLENGE = 64


@dataclass(frozen=True)
class Claim:
    """What a challenge is for: who asked, for which GPU and model."""

    provider: str
    agent: str
    gpu_key: bytes
    model_id: str
    challenge: bytes

    def to_json(self) -> str:
        """The claim as the text a :class:`~oracle.proof.ChallengeStore` keeps."""
        return json.dumps(
            {
                "provider": self.provider,
                "agent": self.agent,
                "gpu_key": "0x" + self.gpu_key.hex(),
                "model_id": self.model_id,
                "challenge": "0x" + self.challenge.hex(),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Claim:
        document = json.loads(text)
        return cls(
            provider=document["provider"],
            agent=document["agent"],
            gpu_key=bytes.fromhex(document["gpu_key"].removeprefix("0x")),
            model_id=document["model_id"],
            challenge=bytes.fromhex(document["challenge"].removeprefix("0x")),
        )


@dataclass(frozen=True)
class IssuedChallenge:
    batch: ChallengeBatch
    claims: tuple[Claim, ...]


def proven_gops(result: ProofResult) -> int:
    """The attested int8 throughput of a proof in GOPS (what ``provenInt8Gops`` carries)."""
    return min(int(result.attested_tops * 1000), _U32)


class ProofService:
    """Issues and verifies proofs for one oracle key; checks certificates from any oracle."""

    def __init__(
        self,
        account: LocalAccount,
        domain: Domain,
        config: Callable[[], OracleConfig],
        *,
        allow_simulated: bool,
        params: ProofParams = PRODUCTION_PARAMS,
        policy: IssuerPolicy = PRODUCTION_POLICY,
        sim_params: ProofParams = CPU_PARAMS,
        sim_deadline_s: float = 20.0,
        certificate_ttl_s: int = 600,
        clock: Callable[[], float] = time.time,
        store: ChallengeStore | None = None,
    ) -> None:
        """``store`` keeps the challenges and their claims; by default only in this process."""
        self.account = account
        self.address = account.address
        self._signer = DigestSigner(account)
        self.domain = domain
        self._separator = domain.separator
        self.config = config
        self.allow_simulated = allow_simulated
        self.params = params
        self.sim_params = sim_params
        self.sim_deadline_s = sim_deadline_s
        self.certificate_ttl_s = certificate_ttl_s
        self.clock = clock
        self.store: ChallengeStore = store if store is not None else InMemoryChallengeStore()
        self.issuer = ChallengeIssuer(self.store, policy, clock=clock)
        # No model-derived deadline for simulated GPUs: the peak is set so that the budget is
        # exactly sim_deadline_s at CPU parameters.
        self.sim_issuer = ChallengeIssuer(
            self.store,
            IssuerPolicy(efficiency_floor=1.0, max_allowance_fraction=0.0, reveal_window_s=60.0),
            clock=clock,
        )
        self.verifier = ProofVerifier(self.store, policy, clock=clock)

    # ------------------------------------------------------------------ models

    def check_model(self, model_id: str) -> None:
        """Refuses simulated models where they are not allowed and models the table lacks."""
        spec = known_model(model_id, allow_simulated=self.allow_simulated)
        if not is_simulated(model_id) and not spec.int8_tops:
            raise UnknownModel(
                model_id, f"{model_id!r} has no published int8 peak to size a proof from"
            )

    # ------------------------------------------------------------------ issue

    def issue(
        self, provider: str, agent: str, model_id: str, gpu_keys: Sequence[bytes]
    ) -> IssuedChallenge:
        """One proof-of-compute challenge per GPU (all of ``model_id``), one deadline; each is
        stored with its claim in one step."""
        if not 1 <= len(gpu_keys) <= MAX_GPUS_PER_CHALLENGE:
            raise MalformedRequest(f"ask for 1 to {MAX_GPUS_PER_CHALLENGE} GPUs per challenge")
        if len(set(gpu_keys)) != len(gpu_keys):
            raise MalformedRequest("a GPU is named twice")
        self.check_model(model_id)
        try:
            model_bytes(model_id)
        except ValueError as exc:
            raise MalformedRequest(str(exc)) from None
        claims: dict[str, Claim] = {}

        def claims_for(challenges: tuple[Challenge, ...]) -> Mapping[str, str]:
            for c, key in zip(challenges, gpu_keys, strict=True):
                claims[c.challenge_id] = Claim(
                    provider=provider,
                    agent=agent,
                    gpu_key=key,
                    model_id=model_id,
                    challenge=attestation_challenge(
                        self._separator, self.address, c.challenge_id, c.seed, provider, agent, key
                    ),
                )
            return {cid: claim.to_json() for cid, claim in claims.items()}

        if is_simulated(model_id):
            params = self.sim_params
            batch = self.sim_issuer.issue(
                model_id=model_id,
                params=params,
                gpu_count=len(gpu_keys),
                peak_tops=params.ops / (self.sim_deadline_s * 1e12),
                claims=claims_for,
            )
        else:
            batch = self.issuer.issue(
                model_id=model_id, params=self.params, gpu_count=len(gpu_keys), claims=claims_for
            )
        self.verifier.purge()
        return IssuedChallenge(batch, tuple(claims[c.challenge_id] for c in batch.challenges))

    # ------------------------------------------------------------------ answer

    def commit(self, batch_id: str, commitments: Sequence[Commitment]) -> list[RevealRequest]:
        return self.verifier.accept_commitments(batch_id, commitments)

    def reveal(
        self, batch_id: str, responses: Sequence[RevealResponse]
    ) -> list[tuple[ProofResult, ProofCertificate, bytes]]:
        """Verify every GPU of the batch; sign a certificate for each."""
        records = self.store.batch(batch_id) or []
        if {r.challenge.challenge_id for r in records} != {x.challenge_id for x in responses}:
            raise MalformedRequest("answer every challenge of the batch at once")
        results = self.verifier.verify_batch(responses)
        now = int(self.clock())
        out = []
        for result in results:
            text = self.store.claim(result.challenge_id)
            if text is None:
                raise UnknownChallenge(
                    f"no claim is recorded for challenge {result.challenge_id}; ask for a new one",
                    challenge_id=result.challenge_id,
                )
            claim = Claim.from_json(text)
            certificate = ProofCertificate(
                issuer=self.address,
                provider=claim.provider,
                agent=claim.agent,
                gpu_key=claim.gpu_key,
                model=model_bytes(claim.model_id),
                challenge=claim.challenge,
                proven_int8_gops=proven_gops(result),
                verified_at=now,
                expires_at=now + self.certificate_ttl_s,
            )
            signature = self._signer.sign(certificate.digest(self.domain))
            out.append((result, certificate, signature))
        return out
