"""Liveness: heartbeats checked from memory, and the agreement on one record per epoch.

Checks, cheapest first (shape is pydantic's, at the route): epoch, agent signature, agent
authorized, each GPU key a current attestation of the heartbeat's provider (read from
:class:`~oracle.facts.ChainFacts`, never from RPC). The same checks verify the evidence peers
exchange, except that its epoch must be the record's.

A peer co-signs a record when every bit is *justified* by a valid heartbeat for that epoch, its
own or one in the request's evidence (see ``docs/liveness.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from depin.attestation import ALL_WELL, GpuStatus, Liveness, LivenessReport
from depin.attestation_client import OracleConfig
from depin.bitmaps import indices, lowest, to_int
from depin.crypto import DigestSigner, keccak
from depin.eip712 import Domain
from depin.wire import (
    EvidenceRequest,
    EvidenceResponse,
    HeartbeatRequest,
    LivenessCosignRequest,
    LivenessView,
)
from oracle.errors import (
    InvalidAgentSignature,
    Refusal,
    StaleEpoch,
    UnauthorizedAgent,
    UnjustifiedLiveness,
    WrongConfigVersion,
)
from oracle.facts import ChainFacts
from oracle.heartbeats import Accepted, EpochView, HeartbeatBook

log = logging.getLogger("depin.oracle")


class LivenessService:
    """Checks heartbeats, answers peers' evidence requests and co-signs justified records."""

    def __init__(
        self,
        signer: DigestSigner,
        domain: Domain,
        facts: ChainFacts,
        book: HeartbeatBook,
        config: Callable[[], OracleConfig],
        epoch_now: Callable[[], int],
    ) -> None:
        self._signer = signer
        self.domain = domain
        self._prefix = b"\x19\x01" + domain.separator
        self.facts = facts
        self.book = book
        self.config = config
        self.epoch_now = epoch_now

    # ------------------------------------------------------------------ checks

    def check(self, request: HeartbeatRequest, *, epoch: int | None = None) -> Accepted:
        """Verifies one heartbeat; ``epoch`` None: it must be for the current or the previous
        epoch (ingestion), else for exactly ``epoch`` (evidence for that epoch's record)."""
        if epoch is None:
            now = self.epoch_now()
            if request.epoch != now and request.epoch != now - 1:
                raise StaleEpoch(request.epoch, now)
        elif request.epoch != epoch:
            raise StaleEpoch(
                request.epoch, epoch, f"a heartbeat for epoch {request.epoch} is no evidence "
                f"for epoch {epoch}"
            )  # fmt: skip
        message = request.message()
        digest = keccak(self._prefix + message.struct_hash())
        InvalidAgentSignature.check(message.agent, digest, request.signature)
        if not self.facts.authorized(message.provider, message.agent):
            raise UnauthorizedAgent(
                message.provider,
                message.agent,
                f"{message.agent} is not authorized by {message.provider}",
            )
        entries = []
        for key, status in zip(message.gpu_keys, message.status, strict=True):
            fact = self.facts.current_gpu(key, message.provider)
            if fact is not None:
                entries.append((fact.index, status & ALL_WELL))
        return Accepted(request, digest, tuple(entries))

    def verified(self, heartbeats: Iterable[HeartbeatRequest], epoch: int) -> list[Accepted]:
        """The heartbeats that pass :meth:`check` for ``epoch``; the others are logged, not
        raised (what the leader does with a peer's evidence)."""
        kept = []
        for heartbeat in heartbeats:
            try:
                kept.append(self.check(heartbeat, epoch=epoch))
            except Refusal as exc:
                log.info("evidence for epoch %d dropped: %s", epoch, exc.detail)
        return kept

    # ------------------------------------------------------------------ agreement

    def evidence(self, request: EvidenceRequest) -> EvidenceResponse:
        """This oracle's view of the epoch and the heartbeats behind each GPU the asking
        leader lacks or sees with another status."""
        view = self.book.view(request.epoch)
        return EvidenceResponse(
            epoch=request.epoch,
            view=LivenessView.of(view.liveness()),
            heartbeats=self.behind(request.epoch, view, request.view.liveness()),
        )

    def behind(
        self, epoch: int, view: EpochView, theirs: Liveness | None
    ) -> list[HeartbeatRequest]:
        """The heartbeats that justify ``view``'s bits wherever ``theirs`` differs (all of
        them when ``theirs`` is None)."""
        available, busy, healthy, unhealthy = view.bits()
        online = available | busy
        differ = online
        if theirs is not None:
            their_online, their_available, their_healthy = (to_int(b) for b in theirs.as_tuple())
            differ &= (
                (online ^ their_online)
                | ((available & ~busy) ^ their_available)
                | ((healthy & ~unhealthy) ^ their_healthy)
            )
        digests: set[bytes] = set()
        for index in indices(differ):
            digests |= view.justifying(index, view.status(index))
        return self.book.bodies(epoch, digests) if digests else []

    def cosign(self, request: LivenessCosignRequest) -> bytes:
        """Signs the record when every bit is justified; keeps the valid evidence."""
        if request.config_version != self.config().version:
            raise WrongConfigVersion(request.config_version)
        evidence = [self.check(h, epoch=request.epoch) for h in request.evidence]
        view = self.book.view(request.epoch)
        for accepted in evidence:
            view.add(accepted.digest, accepted.entries)
        liveness = request.liveness.liveness()
        self.justify(request.epoch, liveness, view)
        if evidence:
            self.book.add_all(evidence)
        return self.sign(request.config_version, request.epoch, liveness)

    @staticmethod
    def justify(epoch: int, liveness: Liveness, view: EpochView) -> None:
        """Raises :class:`UnjustifiedLiveness` for the first bit ``view`` does not justify
        (the whole epoch checked at once, as integers: see :meth:`EpochView.bits`)."""
        online, available, healthy = (to_int(b) for b in liveness.as_tuple())
        for name, bits in (("available", available), ("healthy", healthy)):
            if outside := bits & ~online:
                raise UnjustifiedLiveness(epoch, lowest(outside), f"{name} (offline GPU)")
        said_available, said_busy, said_healthy, said_unhealthy = view.bits()
        unsaid = online & ~(said_available | said_busy)
        unjustified = (
            (available & ~said_available)
            | (online & ~available & ~said_busy)
            | (healthy & ~said_healthy)
            | (online & ~healthy & ~said_unhealthy)
        )
        if wrong := unsaid | unjustified:
            index = lowest(wrong)
            if unsaid >> index & 1:
                raise UnjustifiedLiveness(epoch, index, "online")
            status = (GpuStatus.AVAILABLE if available >> index & 1 else GpuStatus.NONE) | (
                GpuStatus.HEALTHY if healthy >> index & 1 else GpuStatus.NONE
            )
            raise UnjustifiedLiveness(epoch, index, f"status {int(status)}")

    def sign(self, config_version: int, epoch: int, liveness: Liveness) -> bytes:
        report = LivenessReport.of(config_version, epoch, liveness)
        return self._signer.sign(keccak(self._prefix + report.struct_hash()))
