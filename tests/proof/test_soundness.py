"""Cheating at the scale that matters: a slower device skipping rows to meet the deadline.

The cheat tests in ``test_cheats.py`` run under a relaxed policy at toy size, where the deadline
never applies. Here every exchange runs under :data:`PRODUCTION_POLICY` (efficiency floor 0.65,
allowance capped at 5 % of the budget, granted in full: the case most favourable to the
prover) with the production sample count (k = 64), and the oracle's clock is a fake one that
the prover advances by the work it really does: ``pairs computed * 2 * inner * cols`` integer
operations at ``speed`` times the claimed peak. A device at speed ``s`` skipping a fraction
``f`` of the ``(round, row)`` pairs therefore commits after ``(1 - f) / s`` of the time an
honest device at the full peak needs, and its made-up digests are caught by the spot checks.

Why not production size. The soundness figure does not depend on the matrix size: the
deadline and the work both scale with ``ops / peak``, so whether a commitment is late depends
only on ``(1 - f) / s`` against ``(1 + a) / phi``; and the spot checks pick k distinct pairs
uniformly out of ``rounds * rows``, so a prover that made up ``m`` of the ``N`` pairs passes
with the hypergeometric probability ``C(N - m, k) / C(N, k)``, which is below the bound
``(1 - f)^k`` of ``docs/proof-of-compute.md`` for every N and tends to it as N grows. Neither
``inner`` nor ``cols`` enters either figure. So the matrices here are small (``inner`` and
``cols`` only set how long one row takes to compute on this CPU), the round count and the
sample count are production's, and with ``N = 140 * 256`` pairs the hypergeometric figure
is within 1 % of the binomial one for f <= 0.1 (2.4 % at f = 0.3, where both are about
1e-10). The claimed peak is scaled so that the deadline in seconds is production's for an
H100 SXM (about 1 s).

Every cell is run with deterministic seeds (the verifier's picks, the prover's choice of which
pairs to skip) and checked against exact binomial bounds at a tail probability of 1e-9, so the
test cannot flake and a miscalibrated verifier (picks not uniform, a skipped pair slipping
through) would be caught. The table in ``docs/proof-of-compute.md`` is printed by
``PYTHONPATH=tests/proof .venv/bin/python tests/proof/test_soundness.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from proof_helpers import FakeClock, new_oracle

from agent.prover import ProverRun, commitment_for
from depin.proof import (
    PRODUCTION_PARAMS,
    DigestMismatchError,
    LateCommitmentError,
    ProofParams,
    spec,
)
from oracle.proof import PRODUCTION_POLICY, min_passing_tops

pytestmark = pytest.mark.slow

#: Production's rounds and samples; rows and the matrix sides as large as keeps a trial ~5 ms.
PARAMS = ProofParams(
    rows=256, inner=32, cols=32, rounds=PRODUCTION_PARAMS.rounds, samples=PRODUCTION_PARAMS.samples
)
H100_PEAK = 1979.0
#: The claimed peak scaled so that the budget in seconds is production's on an H100 SXM.
PEAK = H100_PEAK * PARAMS.ops / PRODUCTION_PARAMS.ops
SPEEDS = (0.5, 0.64, 0.7, 1.0)
SKIPS = (0.0, 0.01, 0.05, 0.1, 0.3)
TRIALS = 200
TAIL = 1e-9


@dataclass(frozen=True)
class Cell:
    speed: float
    skip: float
    trials: int
    passed: int
    late: int
    caught: int
    skipped_pairs: int

    @property
    def meets_deadline(self) -> bool:
        """Whether the work left after skipping fits the deadline with the full allowance."""
        return meets_deadline(self.speed, self.skip_fraction)

    @property
    def skip_fraction(self) -> float:
        return self.skipped_pairs / (PARAMS.rounds * PARAMS.rows)

    @property
    def pass_probability(self) -> float:
        """Exact chance that k distinct uniform picks all miss the skipped pairs."""
        if not self.meets_deadline:
            return 0.0
        n, m, k = PARAMS.rounds * PARAMS.rows, self.skipped_pairs, PARAMS.samples
        return math.prod((n - m - i) / (n - i) for i in range(k))

    @property
    def bound(self) -> float:
        """The documented bound ``(1 - f)^k`` (0 when the deadline is missed)."""
        return (1 - self.skip_fraction) ** PARAMS.samples if self.meets_deadline else 0.0


def meets_deadline(speed: float, skip: float) -> bool:
    policy = PRODUCTION_POLICY
    return (1 - skip) / speed <= (1 + policy.max_allowance_fraction) / policy.efficiency_floor


def binomial_interval(trials: int, p: float, tail: float = TAIL) -> tuple[int, int]:
    """The smallest ``lo`` and largest ``hi`` with P(X < lo) <= tail and P(X > hi) <= tail."""
    pmf = [math.comb(trials, x) * p**x * (1 - p) ** (trials - x) for x in range(trials + 1)]
    lo, below = 0, 0.0
    while lo < trials and below + pmf[lo] <= tail:
        below += pmf[lo]
        lo += 1
    hi, above = trials, 0.0
    while hi > 0 and above + pmf[hi] <= tail:
        above += pmf[hi]
        hi -= 1
    return lo, hi


def exchange(speed: float, skip: float, trial: int) -> str:
    """One challenge answered by a device at ``speed`` x the claimed peak skipping ``skip`` of
    the pairs; the oracle's verdict: ``accepted`` or the refusal's code."""
    p = PARAMS
    clock = FakeClock()
    oracle = new_oracle(policy=PRODUCTION_POLICY, clock=clock, seed=trial)
    # The largest allowance the policy grants: the cheater's best case.
    batch = oracle.issuer.issue(
        model_id="nvidia-h100-sxm5-80gb", params=p, peak_tops=PEAK, network_allowance_s=1e9
    )
    challenge = batch.challenges[0]
    rng = np.random.default_rng([trial, round(speed * 1000), round(skip * 1000)])
    pairs = p.rounds * p.rows
    skipped = np.zeros(pairs, dtype=bool)
    skipped[rng.choice(pairs, round(skip * pairs), replace=False)] = True
    computed = np.flatnonzero(~skipped)

    # The work the device does: only the computed pairs' rows, all rounds in one product.
    seed = challenge.seed_bytes
    a = spec.a_rows(seed, p, np.arange(p.rows))
    masks = spec.mask_rows(seed, p, np.arange(p.rounds))
    b = spec.b_rows(seed, p, 0, p.inner).astype(np.float32)  # exact: inner <= 1024
    lhs = np.bitwise_xor(a[computed % p.rows], masks[computed // p.rows]).astype(np.float32)
    rows = (lhs @ b).astype(np.int32)
    digests = rng.integers(-(2**40), 2**40, size=pairs, dtype=np.int64)  # made up
    digests[computed] = spec.digest_rows(rows, spec.salt(seed, p))
    digests = digests.reshape(p.rounds, p.rows)
    clock.advance(len(computed) * 2 * p.inner * p.cols / (speed * PEAK * 1e12))

    where = np.full(pairs, -1)
    where[computed] = np.arange(len(computed))

    def row_source(picks: list[spec.Pick]) -> np.ndarray:
        # A skipped pair, once picked, can only be computed now: its row then contradicts the
        # made-up digest already committed.
        out = []
        for pick in picks:
            flat = pick.round * p.rows + pick.row
            i = where[flat]
            out.append(rows[i] if i >= 0 else spec.product_rows(seed, p, [pick])[0])
        return np.stack(out)

    run = ProverRun(challenge, digests, commitment_for(challenge, digests, "sim"), 0.0, row_source)
    try:
        request = oracle.verifier.accept_commitment(run.commitment)
        oracle.verifier.verify(run.reveal(request))
    except LateCommitmentError as exc:
        return exc.code
    except DigestMismatchError as exc:
        assert skipped[exc.round_index * p.rows + exc.row], "an honestly computed row refused"
        return exc.code
    return "accepted"


@cache
def cell(speed: float, skip: float, trials: int | None = None) -> Cell:
    if trials is None:  # a late commitment is certain: a few trials show it
        trials = TRIALS if meets_deadline(speed, skip) else 20
    verdicts = [exchange(speed, skip, trial) for trial in range(trials)]
    return Cell(
        speed,
        skip,
        trials,
        passed=verdicts.count("accepted"),
        late=verdicts.count("late_commitment"),
        caught=verdicts.count("digest_mismatch"),
        skipped_pairs=round(skip * PARAMS.rounds * PARAMS.rows),
    )


def test_the_deadline_threshold_is_the_documented_one() -> None:
    floor = min_passing_tops(H100_PEAK, PRODUCTION_POLICY) / H100_PEAK
    assert floor == pytest.approx(0.619, abs=5e-4)
    assert not meets_deadline(0.5, 0.0) and not meets_deadline(0.61, 0.0)
    assert meets_deadline(0.64, 0.0)
    # the least a half-speed device must skip to be on time: 1 - 0.5 * 1.05 / 0.65
    assert not meets_deadline(0.5, 0.19) and meets_deadline(0.5, 0.193)


@pytest.mark.parametrize("speed", SPEEDS)
def test_a_device_that_skips_nothing_is_refused_only_for_being_late(speed: float) -> None:
    result = cell(speed, 0.0, trials=20)
    if speed < 0.619:
        assert result.late == result.trials
    else:
        assert result.passed == result.trials


@pytest.mark.parametrize("skip", SKIPS[1:])
@pytest.mark.parametrize("speed", SPEEDS)
def test_skipping_rows_passes_at_the_rate_the_spot_checks_allow(speed: float, skip: float) -> None:
    result = cell(speed, skip)
    assert result.passed + result.late + result.caught == result.trials
    if not result.meets_deadline:
        assert result.late == result.trials  # too slow even with the rows it skipped
        return
    assert result.late == 0
    lo, hi = binomial_interval(result.trials, result.pass_probability)
    assert lo <= result.passed <= hi, (result, lo, hi)
    # and never above the documented bound beyond binomial noise
    assert result.passed <= binomial_interval(result.trials, result.bound)[1]


def table() -> str:
    """The markdown table of ``docs/proof-of-compute.md``."""
    head = "| speed / claimed peak | " + " | ".join(f"skip {s:g}" for s in SKIPS) + " |"
    lines = [head, "| --- |" + " --- |" * len(SKIPS)]
    for speed in SPEEDS:
        row = [f"{speed:g}"]
        for skip in SKIPS:
            c = cell(speed, skip, None if skip else 20)
            if not c.meets_deadline:
                row.append(f"late {c.late}/{c.trials}")
            else:
                row.append(f"pass {c.passed}/{c.trials} (bound {c.bound:.2g})")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
