"""Shared pieces of the proof-of-compute suites: small parameters, a fake clock, an oracle."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clock_helpers import FakeClock

from agent.prover import NumpyProver, ProverRun
from depin.proof import Challenge, ChallengeBatch, ProofParams
from oracle.proof import (
    ChallengeIssuer,
    ChallengeStore,
    InMemoryChallengeStore,
    IssuerPolicy,
    ProofVerifier,
)

#: Small enough that a trial takes a millisecond or two.
TINY = ProofParams(rows=32, inner=64, cols=32, rounds=4, samples=4)
#: A lenient policy for tests that are not about time.
RELAXED = IssuerPolicy(efficiency_floor=1.0, max_allowance_fraction=1e9, reveal_window_s=60.0)


def bare_challenge(params: ProofParams, seed: str = "5a" * 32) -> Challenge:
    """A challenge no oracle issued, for running a prover alone (one device, a one-second
    deadline at time zero)."""
    return Challenge(
        challenge_id="c" * 32,
        batch_id="b" * 32,
        device_index=0,
        seed=seed,
        params=params,
        model_id="cpu",
        peak_tops=1.0,
        efficiency_floor=0.5,
        allowance_s=0.0,
        issued_at=0.0,
        deadline_at=1.0,
        expires_at=2.0,
    )


@dataclass
class Oracle:
    store: ChallengeStore
    issuer: ChallengeIssuer
    verifier: ProofVerifier
    clock: FakeClock | None


MakeOracle = Callable[..., Oracle]


def new_oracle(
    *,
    policy: IssuerPolicy = RELAXED,
    clock: FakeClock | str | None = "fake",
    seed: int = 1234,
    store: ChallengeStore | None = None,
) -> Oracle:
    """An issuer and verifier on ``store`` (a fresh in-memory one by default); ``clock=None``
    uses the wall clock."""
    fake = FakeClock() if clock == "fake" else clock
    assert fake is None or isinstance(fake, FakeClock)
    store = store if store is not None else InMemoryChallengeStore()
    if fake is None:
        issuer = ChallengeIssuer(store, policy)
        verifier = ProofVerifier(store, policy, rng=random.Random(seed))
    else:
        issuer = ChallengeIssuer(store, policy, clock=fake)
        verifier = ProofVerifier(store, policy, clock=fake, rng=random.Random(seed))
    return Oracle(store, issuer, verifier, fake)


def honest_run(oracle: Oracle, **issue: Any) -> tuple[ChallengeBatch, ProverRun]:
    """A batch ``oracle`` issues (one CPU GPU at TINY parameters and a 1 GOPS peak unless
    ``issue`` says otherwise) and the honest NumPy prover's run of its first challenge."""
    batch = oracle.issuer.issue(**{"model_id": "cpu", "params": TINY, "peak_tops": 1e-3, **issue})
    return batch, NumpyProver().run(batch.challenges[0])
