"""Property tests where values cross a boundary: the mixer, seeded bytes, and reveal parsing."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from depin.proof import MalformedRevealError, RevealResponse, decode_array, spec
from depin.proof.spec import Key, ProofParams

u32 = st.integers(min_value=0, max_value=2**32 - 1)


@given(st.lists(u32, min_size=1, max_size=64))
def test_mixer_is_deterministic_and_matches_the_reference(values: list[int]) -> None:
    x = np.array(values, dtype=np.uint32)
    first = spec.mix32(x)
    assert first.dtype == np.uint32
    assert np.array_equal(first, spec.mix32(x))
    assert first.tolist() == [spec.mix32_int(v) for v in values]
    assert np.array_equal(x, np.array(values, dtype=np.uint32))  # input left untouched


@given(st.lists(u32, min_size=2, max_size=64, unique=True))
def test_mixer_is_injective(values: list[int]) -> None:
    assert len(set(spec.mix32(np.array(values, dtype=np.uint32)).tolist())) == len(values)


@given(
    k0=u32,
    k1=u32,
    rows=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8),
    nwords=st.integers(1, 16),
)
def test_seeded_bytes_are_int8_and_rows_are_independent(
    k0: int, k1: int, rows: list[int], nwords: int
) -> None:
    key = Key(k0, k1)
    block = spec.int8_rows(key, rows, 4 * nwords)
    assert block.dtype == np.int8
    assert block.shape == (len(rows), 4 * nwords)
    assert int(block.min()) >= -128 and int(block.max()) <= 127
    # Any row can be generated on its own: what lets the oracle build only the picked rows.
    for i, r in enumerate(rows):
        assert np.array_equal(spec.int8_rows(key, [r], 4 * nwords)[0], block[i])


def test_seeded_bytes_cover_the_whole_int8_range() -> None:
    block = spec.int8_rows(Key(1, 2), range(64), 256)
    counts = np.bincount(block.astype(np.int64).ravel() + 128, minlength=256)
    assert counts.min() > 0
    assert abs(float(block.mean())) < 1.0


@given(st.binary(max_size=64), st.integers(0, 16))
def test_decode_array_rejects_wrong_lengths(raw: bytes, length: int) -> None:
    text = base64.b64encode(raw).decode()
    if len(raw) == 4 * length:
        assert decode_array(text, "<i4", length).shape == (length,)
    else:
        with pytest.raises(ValueError):
            decode_array(text, "<i4", length)


@given(st.text(max_size=40))
def test_reveal_parsing_rejects_garbage(values: str) -> None:
    document = {
        "challenge_id": "a" * 32,
        "openings": [{"round": 0, "row": 0, "values": values}],
        "rounds": [{"round": 0, "digests": ""}],
    }
    try:
        base64.b64decode(values, validate=True)
        valid = True
    except ValueError:
        valid = False
    if valid:
        assert RevealResponse.model_validate(document).openings[0].values == values
    else:
        with pytest.raises(ValidationError):
            RevealResponse.model_validate(document)


@pytest.mark.parametrize(
    "patch",
    [
        {"challenge_id": "not-hex"},
        {"openings": []},
        {"openings": [{"round": -1, "row": 0, "values": ""}]},
        {"openings": [{"round": 0, "row": 0, "values": "", "extra": 1}]},
        {"rounds": [{"round": 0}]},
        {"unexpected": True},
    ],
)
def test_reveal_parsing_rejects_malformed_documents(patch: dict[str, object]) -> None:
    document: dict[str, object] = {
        "challenge_id": "a" * 32,
        "openings": [{"round": 0, "row": 0, "values": ""}],
        "rounds": [{"round": 0, "digests": ""}],
    }
    document.update(patch)
    with pytest.raises(ValidationError):
        RevealResponse.model_validate(document)


SMALL = ProofParams(rows=16, inner=32, cols=16, rounds=2, samples=3)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_verifier_refuses_every_corrupted_reveal(data: st.DataObject) -> None:
    from proof_helpers import new_oracle

    from agent.prover import NumpyProver
    from depin.proof import ProofError

    o = new_oracle(seed=data.draw(st.integers(0, 10**6)))
    challenge = o.issuer.issue(model_id="cpu", params=SMALL, peak_tops=1e-6).challenges[0]
    run = NumpyProver().run(challenge)
    request = o.verifier.accept_commitment(run.commitment)
    document = run.reveal(request).model_dump()
    where = data.draw(st.sampled_from(["row", "digests", "drop", "duplicate", "round", "length"]))
    if where == "row":
        raw = bytearray(base64.b64decode(document["openings"][0]["values"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
        document["openings"][0]["values"] = base64.b64encode(bytes(raw)).decode()
    elif where == "digests":
        raw = bytearray(base64.b64decode(document["rounds"][0]["digests"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
        document["rounds"][0]["digests"] = base64.b64encode(bytes(raw)).decode()
    elif where == "drop":
        document["openings"] = document["openings"][1:]
    elif where == "duplicate":
        document["openings"] = [*document["openings"], document["openings"][0]]
    elif where == "round":
        document["openings"][0]["row"] = (document["openings"][0]["row"] + 1) % SMALL.rows
    else:
        extra = data.draw(st.binary(min_size=1, max_size=8))
        raw = base64.b64decode(document["openings"][0]["values"]) + extra
        document["openings"][0]["values"] = base64.b64encode(raw).decode()
    if where in {"drop"} and not document["openings"]:
        with pytest.raises(ValidationError):
            RevealResponse.model_validate(document)
        return
    response = RevealResponse.model_validate(document)
    with pytest.raises(ProofError) as err:
        o.verifier.verify(response)
    expected = {
        "row": {"digest_mismatch"},
        "digests": {"commitment_mismatch"},
        "drop": {"malformed_reveal"},
        "duplicate": {"malformed_reveal"},
        "round": {"malformed_reveal"},
        "length": {"malformed_reveal"},
    }[where]
    assert err.value.code in expected
    assert isinstance(err.value, MalformedRevealError) == (expected == {"malformed_reveal"})
