"""The oracle's side of the exchange: commitments in, reveal requests out, verdicts last.

Each challenge moves ISSUED -> COMMITTED -> CONSUMED through atomic store transitions, so it
can be answered once; any refusal consumes it too (no second try on the same seed).
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from depin.proof.errors import (
    ChallengeExpiredError,
    LateCommitmentError,
    MalformedRevealError,
    ProofError,
    ReplayedChallengeError,
    UnknownChallengeError,
    WrongDeviceCountError,
)
from depin.proof.messages import (
    Commitment,
    PickModel,
    ProofResult,
    RevealRequest,
    RevealResponse,
)
from depin.proof.spec import Pick, ProofParams
from oracle.proof.issuer import PRODUCTION_POLICY, IssuerPolicy
from oracle.proof.reveal_check import verify_reveal
from oracle.proof.store import ChallengeRecord, ChallengeState, ChallengeStore, consumed

__all__ = ["ProofVerifier", "draw_picks"]


def draw_picks(params: ProofParams, rng: random.Random) -> tuple[Pick, ...]:
    """``samples`` distinct ``(round, row)`` pairs, uniformly at random."""
    flat = rng.sample(range(params.rounds * params.rows), params.samples)
    return tuple(Pick(i // params.rows, i % params.rows) for i in sorted(flat))


class ProofVerifier:
    """Accepts commitments and reveals for challenges issued into ``store``."""

    def __init__(
        self,
        store: ChallengeStore,
        policy: IssuerPolicy = PRODUCTION_POLICY,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self._clock = clock
        self._rng = rng if rng is not None else secrets.SystemRandom()

    def _consume_all(self, records: Sequence[ChallengeRecord]) -> None:
        for record in records:
            self.store.transition(record, consumed(record))

    def accept_commitments(
        self, batch_id: str, commitments: Sequence[Commitment]
    ) -> list[RevealRequest]:
        """Take the commitments of every GPU of a batch; the arrival time is measured here.

        Returns:
            One reveal request per commitment, in the order given.

        Raises:
            UnknownChallengeError, ChallengeExpiredError, ReplayedChallengeError,
            WrongDeviceCountError, MalformedRevealError, LateCommitmentError.
        """
        now = self._clock()
        records = self.store.batch(batch_id)
        if not records:
            raise UnknownChallengeError(batch_id)
        if any(r.state is not ChallengeState.ISSUED for r in records):
            raise ReplayedChallengeError(batch_id)
        if now > min(r.challenge.expires_at for r in records):
            self._consume_all(records)
            raise ChallengeExpiredError(batch_id)
        by_id = {r.challenge.challenge_id: r for r in records}
        answered = {c.challenge_id for c in commitments}
        if len(answered) != len(by_id) or len(commitments) != len(by_id):
            self._consume_all(records)
            raise WrongDeviceCountError(batch_id, len(by_id), len(answered))
        for cid in answered - by_id.keys():
            self._consume_all(records)
            raise UnknownChallengeError(cid)
        for c in commitments:
            if len(c.round_hashes) != by_id[c.challenge_id].challenge.params.rounds:
                self._consume_all(records)
                raise MalformedRevealError(c.challenge_id, "commitment needs one hash per round")
        late = [r for r in records if now > r.challenge.deadline_at]
        if late:
            self._consume_all(records)
            ch = late[0].challenge
            elapsed = now - ch.issued_at
            raise LateCommitmentError(
                ch.challenge_id, elapsed, ch.deadline_s, ch.params.ops / elapsed / 1e12
            )
        requests = []
        for c in commitments:
            record = by_id[c.challenge_id]
            picks = draw_picks(record.challenge.params, self._rng)
            new = replace(
                record,
                state=ChallengeState.COMMITTED,
                commitment=c,
                committed_at=now,
                picks=picks,
            )
            if not self.store.transition(record, new):
                raise ReplayedChallengeError(c.challenge_id)
            requests.append(
                RevealRequest(
                    challenge_id=c.challenge_id,
                    picks=tuple(PickModel(round=p.round, row=p.row) for p in picks),
                )
            )
        return requests

    def accept_commitment(self, commitment: Commitment) -> RevealRequest:
        """:meth:`accept_commitments` for a single-GPU claim."""
        record = self.store.get(commitment.challenge_id)
        if record is None:
            raise UnknownChallengeError(commitment.challenge_id)
        return self.accept_commitments(record.challenge.batch_id, [commitment])[0]

    def verify(self, response: RevealResponse) -> ProofResult:
        """Check one GPU's reveal and return its attested throughput.

        Raises:
            UnknownChallengeError, ReplayedChallengeError, ChallengeExpiredError,
            MalformedRevealError, CommitmentMismatchError, DigestMismatchError,
            RowMismatchError.
        """
        now = self._clock()
        cid = response.challenge_id
        record = self.store.get(cid)
        if record is None:
            raise UnknownChallengeError(cid)
        if record.state is ChallengeState.CONSUMED:
            raise ReplayedChallengeError(cid)
        if not self.store.transition(record, consumed(record)):
            raise ReplayedChallengeError(cid)
        if record.state is ChallengeState.ISSUED:
            raise MalformedRevealError(cid, "reveal before any commitment")
        challenge = record.challenge
        if now > challenge.expires_at:
            raise ChallengeExpiredError(cid)
        assert record.commitment is not None and record.committed_at is not None
        verify_reveal(challenge, record.commitment, record.picks, response)
        elapsed = record.committed_at - challenge.issued_at
        tops = challenge.params.ops / elapsed / 1e12 if elapsed > 0 else float("inf")
        return ProofResult(
            challenge_id=cid,
            batch_id=challenge.batch_id,
            device_index=challenge.device_index,
            model_id=challenge.model_id,
            ops=challenge.params.ops,
            elapsed_s=elapsed,
            deadline_s=challenge.deadline_s,
            attested_tops=tops,
            peak_tops=challenge.peak_tops,
            fraction_of_peak=tops / challenge.peak_tops,
            samples=len(record.picks),
        )

    def verify_batch(self, responses: Sequence[RevealResponse]) -> list[ProofResult]:
        """Verify every GPU of a batch; the first refusal is raised."""
        results: list[ProofResult] = []
        failure: ProofError | None = None
        for response in responses:
            try:
                results.append(self.verify(response))
            except ProofError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return results

    def purge(self) -> int:
        """Forget challenges past their retention."""
        return self.store.purge(self._clock(), self.policy.retention_s)
