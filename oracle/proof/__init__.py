"""Proof of compute, oracle side: issuing challenges, the single-use store, verification."""

from oracle.proof.exchange import ProofVerifier, draw_picks
from oracle.proof.issuer import (
    PRODUCTION_POLICY,
    ChallengeIssuer,
    ClaimsFor,
    IssuerPolicy,
    compute_budget_s,
    deadline_s,
    min_passing_tops,
    peak_tops_for_model,
)
from oracle.proof.reveal_check import verify_reveal
from oracle.proof.store import (
    ChallengeRecord,
    ChallengeState,
    ChallengeStore,
    InMemoryChallengeStore,
    SqliteChallengeStore,
)

__all__ = [
    "PRODUCTION_POLICY",
    "ChallengeIssuer",
    "ChallengeRecord",
    "ChallengeState",
    "ChallengeStore",
    "ClaimsFor",
    "InMemoryChallengeStore",
    "IssuerPolicy",
    "ProofVerifier",
    "SqliteChallengeStore",
    "compute_budget_s",
    "deadline_s",
    "draw_picks",
    "min_passing_tops",
    "peak_tops_for_model",
    "verify_reveal",
]
