"""Issuing challenges: a fresh seed per GPU and a deadline from the claimed model's int8 peak."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from depin.proof.messages import Challenge, ChallengeBatch
from depin.proof.spec import ProofParams
from oracle.proof.store import ChallengeRecord, ChallengeStore

__all__ = [
    "ChallengeIssuer",
    "ClaimsFor",
    "IssuerPolicy",
    "compute_budget_s",
    "deadline_s",
    "min_passing_tops",
    "peak_tops_for_model",
]


@dataclass(frozen=True)
class IssuerPolicy:
    """How strict the oracle is.

    Attributes:
        efficiency_floor: the fraction of the claimed peak a device must sustain; the compute
            budget is ``ops / (efficiency_floor * peak)``.
        max_allowance_fraction: the network allowance is capped at this fraction of the compute
            budget, so that no allowance lets a device below
            ``efficiency_floor / (1 + max_allowance_fraction)`` of the peak through.
        reveal_window_s: how long after the deadline the reveal may still arrive.
        retention_s: how long answered challenges are remembered after they expire.
    """

    efficiency_floor: float = 0.65
    max_allowance_fraction: float = 0.05
    reveal_window_s: float = 60.0
    retention_s: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.efficiency_floor <= 1:
            raise ValueError("efficiency_floor must lie in (0, 1]")
        if self.max_allowance_fraction < 0:
            raise ValueError("max_allowance_fraction must not be negative")


#: Makes the claims of newly issued challenges: challenge id -> claim (text the issuer stores
#: with the challenge and does not read).
ClaimsFor = Callable[[tuple[Challenge, ...]], Mapping[str, str]]


#: The policy for production: a device sustaining below 0.619 of the claimed peak always fails.
PRODUCTION_POLICY = IssuerPolicy()


def compute_budget_s(params: ProofParams, peak_tops: float, efficiency_floor: float) -> float:
    """Seconds the work may take at ``efficiency_floor`` of ``peak_tops``."""
    return params.ops / (efficiency_floor * peak_tops * 1e12)


def deadline_s(
    params: ProofParams, peak_tops: float, policy: IssuerPolicy, network_allowance_s: float
) -> tuple[float, float]:
    """The deadline (seconds after issue) and the allowance actually granted."""
    budget = compute_budget_s(params, peak_tops, policy.efficiency_floor)
    allowance = min(max(network_allowance_s, 0.0), policy.max_allowance_fraction * budget)
    return budget + allowance, allowance


def min_passing_tops(peak_tops: float, policy: IssuerPolicy) -> float:
    """The throughput below which a device misses every deadline, whatever its allowance."""
    return policy.efficiency_floor * peak_tops / (1 + policy.max_allowance_fraction)


def peak_tops_for_model(model_id: str) -> float:
    """The published dense int8 peak of a model, from the GPU spec table.

    Raises:
        LookupError: the table is missing, does not know the model, or has no int8 figure.
    """
    try:
        from depin import specs
    except ImportError as exc:  # pragma: no cover - the table ships with depin
        raise LookupError("the GPU spec table is not available") from exc
    spec = specs.by_model_id(model_id)
    if spec is None:
        raise LookupError(f"unknown GPU model {model_id!r}")
    peak = getattr(spec, "int8_tops", None)
    if not peak:
        raise LookupError(f"no published int8 peak for {model_id!r}")
    return float(peak)


class ChallengeIssuer:
    """Creates challenges and records them, with their claims, in a store."""

    def __init__(
        self,
        store: ChallengeStore,
        policy: IssuerPolicy = PRODUCTION_POLICY,
        *,
        clock: Callable[[], float] = time.time,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.store = store
        self.policy = policy
        self._clock = clock
        self._token_bytes = token_bytes

    def issue(
        self,
        *,
        model_id: str,
        params: ProofParams,
        gpu_count: int = 1,
        peak_tops: float | None = None,
        network_allowance_s: float = 0.0,
        claims: ClaimsFor | None = None,
    ) -> ChallengeBatch:
        """Issue one challenge per claimed GPU, all with the same deadline.

        The challenges and their claims are stored in one step (:meth:`ChallengeStore.add`):
        a challenge is never stored without the claim it was issued with.

        Args:
            model_id: the claimed model (a ``depin.specs`` id).
            params: the challenge size.
            gpu_count: GPUs of that model claimed on the host; each gets its own seed.
            peak_tops: the model's dense int8 peak; looked up from ``depin.specs`` if omitted.
            network_allowance_s: the round trip measured for this agent; capped by the policy.
            claims: called with the new challenges before they are stored; what it returns
                (challenge id -> claim) is stored with them. Nothing is stored if it raises.
        """
        if gpu_count < 1:
            raise ValueError("gpu_count must be at least 1")
        peak = peak_tops if peak_tops is not None else peak_tops_for_model(model_id)
        if peak <= 0:
            raise ValueError("peak_tops must be positive")
        window, allowance = deadline_s(params, peak, self.policy, network_allowance_s)
        now = self._clock()
        batch_id = self._token_bytes(16).hex()
        challenges = tuple(
            Challenge(
                challenge_id=self._token_bytes(16).hex(),
                batch_id=batch_id,
                device_index=index,
                seed=self._token_bytes(32).hex(),
                params=params,
                model_id=model_id,
                peak_tops=peak,
                efficiency_floor=self.policy.efficiency_floor,
                allowance_s=allowance,
                issued_at=now,
                deadline_at=now + window,
                expires_at=now + window + self.policy.reveal_window_s,
            )
            for index in range(gpu_count)
        )
        self.store.add(
            [ChallengeRecord(challenge=c) for c in challenges],
            None if claims is None else claims(challenges),
        )
        return ChallengeBatch(batch_id=batch_id, challenges=challenges)
