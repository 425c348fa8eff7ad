"""The torch prover (on CPU torch) reproduces the NumPy reference bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from proof_helpers import MakeOracle, bare_challenge

from agent.prover import NumpyProver
from depin.proof import Challenge, Pick, ProofParams, spec

torch = pytest.importorskip("torch")

from agent.prover.torch_prover import TorchProver, mix32_t, words_t  # noqa: E402

PARAMS = ProofParams(rows=40, inner=96, cols=24, rounds=3, samples=6)


def _challenge(params: ProofParams = PARAMS, seed: str = "5a" * 32) -> Challenge:
    return bare_challenge(params, seed)


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=64))
def test_mixer_matches_numpy(values: list[int]) -> None:
    got = mix32_t(torch.tensor(values, dtype=torch.int64)).numpy()
    assert got.tolist() == spec.mix32(np.array(values, dtype=np.uint32)).tolist()


def test_words_match_numpy_at_extreme_rows() -> None:
    key = spec.Key(0xFFFFFFFF, 0x12345678)
    rows = [0, 1, 2**31, 2**32 - 1]
    got = words_t(key, torch.tensor(rows, dtype=torch.int64), 300).numpy()
    assert np.array_equal(got.astype(np.uint32), spec.words(key, rows, 300))


def test_matrices_products_digests_and_commitments_are_identical() -> None:
    challenge = _challenge()
    seed = challenge.seed_bytes
    prover = TorchProver("cpu")
    seeded = prover.seeded(challenge)
    assert np.array_equal(seeded.a.numpy(), spec.a_rows(seed, PARAMS, np.arange(PARAMS.rows)))
    assert np.array_equal(seeded.b.numpy(), spec.b_rows(seed, PARAMS, 0, PARAMS.inner))
    masks = spec.mask_rows(seed, PARAMS, np.arange(PARAMS.rounds))
    assert np.array_equal(seeded.masks.numpy(), masks)
    assert np.array_equal(seeded.salt.numpy(), spec.salt(seed, PARAMS))
    b = spec.b_rows(seed, PARAMS, 0, PARAMS.inner)
    for r in range(PARAMS.rounds):
        want = spec.round_product(spec.round_matrix(seed, PARAMS, r), b)
        assert np.array_equal(prover.products(challenge, r), want)
    ours, theirs = prover.run(challenge), NumpyProver().run(challenge)
    assert np.array_equal(ours.digests, theirs.digests)
    assert ours.commitment.round_hashes == theirs.commitment.round_hashes
    picks = [Pick(0, 0), Pick(2, 39), Pick(1, 17)]
    assert np.array_equal(ours.row_source(picks), theirs.row_source(picks))
    assert np.array_equal(ours.row_source(picks), spec.product_rows(seed, PARAMS, picks))


def test_generation_in_chunks_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.prover.torch_prover as tp

    monkeypatch.setattr(tp, "_CHUNK_WORDS", 50)  # forces several chunks per matrix
    challenge = _challenge()
    seeded = TorchProver("cpu").seeded(challenge)
    assert np.array_equal(
        seeded.a.numpy(), spec.a_rows(challenge.seed_bytes, PARAMS, np.arange(PARAMS.rows))
    )


def test_torch_prover_passes_verification(make_oracle: MakeOracle) -> None:
    o = make_oracle()
    params = ProofParams(rows=32, inner=64, cols=32, rounds=4, samples=8)
    batch = o.issuer.issue(model_id="cpu", params=params, peak_tops=1e-6)
    run = TorchProver("cpu").run(batch.challenges[0])
    assert run.commitment.backend == "torch:cpu"
    result = o.verifier.verify(run.reveal(o.verifier.accept_commitment(run.commitment)))
    assert result.samples == 8


@pytest.mark.gpu
def test_cuda_prover_matches_numpy_and_verifies(make_oracle: MakeOracle) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from agent.prover import run_batch

    o = make_oracle()
    params = ProofParams(rows=256, inner=512, cols=256, rounds=4, samples=16)
    batch = o.issuer.issue(
        model_id="cpu", params=params, peak_tops=1e-6, gpu_count=torch.cuda.device_count()
    )
    runs = run_batch(batch, lambda index: TorchProver(f"cuda:{index}"))
    for challenge, run in zip(batch.challenges, runs, strict=True):
        assert run.commitment.backend == f"torch:cuda:{challenge.device_index}"
        assert np.array_equal(run.digests, NumpyProver().run(challenge).digests)
    requests = o.verifier.accept_commitments(batch.batch_id, [r.commitment for r in runs])
    o.verifier.verify_batch([r.reveal(q) for r, q in zip(runs, requests, strict=True)])
