"""The honest exchange end to end, and each refusal of the oracle's state machine by its code."""

from __future__ import annotations

import numpy as np
import pytest
from proof_helpers import TINY, MakeOracle, bare_challenge, honest_run

from agent.prover import NumpyProver, run_batch
from depin.errors import DepinError
from depin.proof import (
    CPU_PARAMS,
    PRODUCTION_PARAMS,
    ChallengeExpiredError,
    LateCommitmentError,
    MalformedRevealError,
    ProofError,
    ReplayedChallengeError,
    UnknownChallengeError,
    WrongDeviceCountError,
)
from oracle.proof import (
    PRODUCTION_POLICY,
    IssuerPolicy,
    compute_budget_s,
    deadline_s,
    min_passing_tops,
    peak_tops_for_model,
)

H100 = "nvidia-h100-sxm5-80gb"


def test_honest_numpy_prover_is_verified(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    _, run = honest_run(o, peak_tops=1e-6)
    assert o.clock is not None
    o.clock.advance(0.25)
    request = o.verifier.accept_commitment(run.commitment)
    assert len(request.picks) == TINY.samples
    result = o.verifier.verify(run.reveal(request))
    assert result.elapsed_s == pytest.approx(0.25)
    assert result.ops == TINY.ops
    assert result.attested_tops == pytest.approx(TINY.ops / 0.25 / 1e12)
    assert result.fraction_of_peak == pytest.approx(result.attested_tops / 1e-6)


def test_refusals_are_depin_errors_with_stable_codes() -> None:
    codes = {
        cls.code
        for cls in ProofError.__subclasses__()
        if issubclass(cls, DepinError) and cls is not ProofError
    }
    assert codes == {
        "late_commitment",
        "commitment_mismatch",
        "row_mismatch",
        "digest_mismatch",
        "replayed_challenge",
        "wrong_device_count",
        "unknown_challenge",
        "challenge_expired",
        "malformed_reveal",
    }


def test_multi_gpu_batch_runs_concurrently_and_verifies(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    batch = o.issuer.issue(model_id="cpu", params=TINY, peak_tops=1e-3, gpu_count=3)
    assert len({c.seed for c in batch.challenges}) == 3
    runs = run_batch(batch, lambda index: NumpyProver())
    requests = o.verifier.accept_commitments(batch.batch_id, [r.commitment for r in runs])
    results = o.verifier.verify_batch([r.reveal(q) for r, q in zip(runs, requests, strict=True)])
    assert [r.device_index for r in results] == [0, 1, 2]


def test_wrong_device_count(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    batch, run = honest_run(o, gpu_count=2)
    with pytest.raises(WrongDeviceCountError) as err:
        o.verifier.accept_commitments(batch.batch_id, [run.commitment])
    assert err.value.code == "wrong_device_count"
    assert (err.value.expected, err.value.got) == (2, 1)
    # One GPU's answer sent twice is no better.
    o2 = make_oracle()
    batch2, run2 = honest_run(o2, gpu_count=2)
    with pytest.raises(WrongDeviceCountError):
        o2.verifier.accept_commitments(batch2.batch_id, [run2.commitment, run2.commitment])


def test_unknown_challenge(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    other = make_oracle()
    _, run = honest_run(other)
    with pytest.raises(UnknownChallengeError) as err:
        o.verifier.accept_commitment(run.commitment)
    assert err.value.code == "unknown_challenge"


def test_expired_challenge(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    batch, run = honest_run(o)
    assert o.clock is not None
    request = o.verifier.accept_commitment(run.commitment)
    o.clock.advance(o.issuer.policy.reveal_window_s + 10 * batch.challenges[0].deadline_s)
    with pytest.raises(ChallengeExpiredError) as err:
        o.verifier.verify(run.reveal(request))
    assert err.value.code == "challenge_expired"


def test_commitment_after_expiry_is_expired(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    batch, run = honest_run(o)
    assert o.clock is not None
    o.clock.now = batch.challenges[0].expires_at + 1
    with pytest.raises(ChallengeExpiredError):
        o.verifier.accept_commitment(run.commitment)


def test_replayed_response_is_refused(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    _, run = honest_run(o)
    request = o.verifier.accept_commitment(run.commitment)
    response = run.reveal(request)
    o.verifier.verify(response)
    with pytest.raises(ReplayedChallengeError) as err:
        o.verifier.verify(response)
    assert err.value.code == "replayed_challenge"
    with pytest.raises(ReplayedChallengeError):
        o.verifier.accept_commitment(run.commitment)


def test_a_second_commitment_is_a_replay(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    _, run = honest_run(o)
    o.verifier.accept_commitment(run.commitment)
    with pytest.raises(ReplayedChallengeError):
        o.verifier.accept_commitment(run.commitment)


def test_reveal_before_commitment_is_malformed(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    _, run = honest_run(o)
    from depin.proof import PickModel, RevealRequest

    fake = RevealRequest(
        challenge_id=run.challenge.challenge_id, picks=(PickModel(round=0, row=0),)
    )
    with pytest.raises(MalformedRevealError) as err:
        o.verifier.verify(run.reveal(fake))
    assert err.value.code == "malformed_reveal"


def test_cpu_claiming_an_h100_is_late(make_oracle: MakeOracle) -> None:
    # Wall clock: the oracle sizes the deadline from the H100's int8 peak, the CPU misses it.
    o = make_oracle(policy=PRODUCTION_POLICY, clock=None)
    batch = o.issuer.issue(model_id=H100, params=CPU_PARAMS, network_allowance_s=0.5)
    challenge = batch.challenges[0]
    assert challenge.peak_tops == 1979.0
    assert challenge.deadline_s < 1e-3  # allowance capped at 5 % of a sub-microsecond budget
    run = NumpyProver().run(challenge)
    with pytest.raises(LateCommitmentError) as err:
        o.verifier.accept_commitment(run.commitment)
    assert err.value.code == "late_commitment"
    assert err.value.elapsed_s > err.value.deadline_s
    assert err.value.tops < min_passing_tops(1979.0, PRODUCTION_POLICY)
    # A late challenge is spent: no second try on the same seed.
    with pytest.raises(ReplayedChallengeError):
        o.verifier.accept_commitment(run.commitment)


@pytest.mark.parametrize("allowance", [0.0, 0.01, 10.0])
def test_half_the_claimed_throughput_always_misses(
    make_oracle: MakeOracle, allowance: float
) -> None:
    # A device is modelled by its sustained throughput; the oracle's clock moves by ops / tops.
    # (A slow virtual peak keeps the times far above the clock's float resolution.)
    peak = 1e-6
    for fraction, passes in [(0.5, False), (0.6, False), (0.66, True), (0.7, True)]:
        o = make_oracle(policy=PRODUCTION_POLICY)
        _, run = honest_run(o, model_id=H100, peak_tops=peak, network_allowance_s=allowance)
        assert o.clock is not None
        o.clock.advance(TINY.ops / (fraction * peak * 1e12))
        if passes:
            o.verifier.accept_commitment(run.commitment)
        else:
            with pytest.raises(LateCommitmentError):
                o.verifier.accept_commitment(run.commitment)


def test_deadline_arithmetic() -> None:
    budget = compute_budget_s(PRODUCTION_PARAMS, 1979.0, 0.65)
    assert budget == pytest.approx(0.957, abs=1e-3)
    # an honest H100 at the 70 % target finishes inside the budget
    assert PRODUCTION_PARAMS.ops / (0.70 * 1979e12) < budget
    window, allowance = deadline_s(PRODUCTION_PARAMS, 1979.0, PRODUCTION_POLICY, 1.0)
    assert allowance == pytest.approx(0.05 * budget)
    assert window == pytest.approx(1.05 * budget)
    assert min_passing_tops(1979.0, PRODUCTION_POLICY) > 1979.0 / 2
    with pytest.raises(ValueError):
        IssuerPolicy(efficiency_floor=0)


def test_soundness_figures_at_production() -> None:
    k = PRODUCTION_PARAMS.samples
    assert k == 64
    assert 0.5**k < 1e-19  # half the rows computed
    assert 0.9**k < 2e-3  # a tenth of the rows made up
    # A device sustaining half the peak must skip rows to finish; its best chance:
    best_fraction = (1979.0 / 2) / min_passing_tops(1979.0, PRODUCTION_POLICY)
    assert 0.80 < best_fraction < 0.81
    assert best_fraction**k < 2e-6


def test_peak_comes_from_the_spec_table() -> None:
    assert peak_tops_for_model(H100) == 1979.0
    with pytest.raises(LookupError):
        peak_tops_for_model("no-such-gpu-model")


def test_store_purges_expired_challenges(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    batch = o.issuer.issue(model_id="cpu", params=TINY, peak_tops=1e-3, gpu_count=2)
    assert o.clock is not None
    assert o.verifier.purge() == 0
    o.clock.now = batch.challenges[0].expires_at + o.issuer.policy.retention_s + 1
    assert o.verifier.purge() == 2
    assert o.store.get(batch.challenges[0].challenge_id) is None


def test_concurrent_answers_to_one_challenge_accept_one(make_oracle: MakeOracle) -> None:
    import threading

    o = make_oracle()
    _, run = honest_run(o)
    request = o.verifier.accept_commitment(run.commitment)
    response = run.reveal(request)
    outcomes: list[str] = []

    def answer() -> None:
        try:
            o.verifier.verify(response)
            outcomes.append("ok")
        except ReplayedChallengeError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=answer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["replayed_challenge"] * 7


def test_local_stack_parameters_are_a_small_job_for_the_numpy_prover() -> None:
    """The local stack's parameters are sized in operations here; how long the NumPy prover
    takes at them is measured by ``bench/proof.py`` (``numpy_prover_s``), not asserted."""
    assert CPU_PARAMS.ops < 1e9 and CPU_PARAMS.ops * 1e6 < PRODUCTION_PARAMS.ops

    run = NumpyProver().run(bare_challenge(CPU_PARAMS, seed="2" * 64))
    assert run.digests.shape == (CPU_PARAMS.rounds, CPU_PARAMS.rows)
    assert run.digests.dtype == np.int64
