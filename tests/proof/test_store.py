"""The challenge stores' contract, for each implementation, and what the SQLite one adds: the
challenges of an oracle outlive its process."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from proof_helpers import TINY, FakeClock, MakeOracle, Oracle, new_oracle

from agent.prover import NumpyProver
from depin.proof import Challenge, Commitment, ReplayedChallengeError
from depin.proof.spec import Pick
from oracle.proof import (
    ChallengeRecord,
    ChallengeState,
    ChallengeStore,
    SqliteChallengeStore,
)
from oracle.proof.store import consumed, decode_record, encode_record
from oracle.store import Store

NewStore = Callable[[], ChallengeStore]


def _record(
    cid: int, batch: int, index: int = 0, expires_at: float = 1_000_060.0
) -> ChallengeRecord:
    return ChallengeRecord(
        Challenge(
            challenge_id=f"{cid:032x}",
            batch_id=f"{batch:032x}",
            device_index=index,
            seed=f"{cid:064x}",
            params=TINY,
            model_id="cpu",
            peak_tops=1e-3,
            efficiency_floor=1.0,
            allowance_s=0.0,
            issued_at=1_000_000.0,
            deadline_at=1_000_000.5,
            expires_at=expires_at,
        )
    )


def _committed(record: ChallengeRecord, committed_at: float = 1_000_000.25) -> ChallengeRecord:
    commitment = Commitment(
        challenge_id=record.challenge.challenge_id,
        round_hashes=tuple(f"{r:064x}" for r in range(TINY.rounds)),
        backend="numpy",
    )
    return replace(
        record,
        state=ChallengeState.COMMITTED,
        commitment=commitment,
        committed_at=committed_at,
        picks=(Pick(0, 3), Pick(2, 7)),
    )


def _cid(record: ChallengeRecord) -> str:
    return record.challenge.challenge_id


# ---------------------------------------------------------------------------- both stores


def test_add_get_and_batch_in_issue_order(new_store: NewStore) -> None:
    store = new_store()
    # Ids that sort the other way round from the issue order.
    batch = [_record(9 - i, batch=1, index=i) for i in range(4)]
    other = [_record(20, batch=2)]
    store.add(batch)
    store.add(other)
    assert store.batch(f"{1:032x}") == batch
    assert store.batch(f"{2:032x}") == other
    assert store.get(_cid(batch[2])) == batch[2]
    assert store.get(f"{99:032x}") is None
    assert store.batch(f"{99:032x}") is None


def test_a_challenge_is_stored_once(new_store: NewStore) -> None:
    store = new_store()
    first = _record(1, batch=1)
    store.add([first], {_cid(first): '{"gpu":1}'})
    # The second challenge of each batch is stored already or named twice.
    for batch in (
        [_record(2, batch=2), replace(first, state=ChallengeState.CONSUMED)],
        [_record(3, batch=3), _record(3, batch=3, index=1)],
    ):
        with pytest.raises(ValueError, match="already stored"):
            store.add(batch, {_cid(r): '{"gpu":"new"}' for r in batch})
        # A refused batch leaves nothing behind, not even the claims of its new challenges.
        assert store.batch(batch[0].challenge.batch_id) is None
        assert store.get(_cid(batch[0])) is None and store.claim(_cid(batch[0])) is None
    # The stored record and its claim are untouched.
    assert store.get(_cid(first)) == first
    assert store.claim(_cid(first)) == '{"gpu":1}'


def test_transition_is_a_compare_and_set(new_store: NewStore) -> None:
    store = new_store()
    store.add([_record(1, batch=1)])
    issued = store.get(f"{1:032x}")
    assert issued is not None
    committed = _committed(issued)
    assert store.transition(issued, committed) is True
    assert store.get(_cid(issued)) == committed
    # A second transition from the same (now stale) record fails and changes nothing.
    assert store.transition(issued, consumed(issued)) is False
    assert store.get(_cid(issued)) == committed
    current = store.get(_cid(issued))
    assert current is not None
    assert store.transition(current, consumed(current)) is True
    assert store.get(_cid(issued)) == consumed(committed)
    assert store.batch(f"{1:032x}") == [consumed(committed)]


def test_concurrent_transitions_from_one_record_accept_one(new_store: NewStore) -> None:
    store = new_store()
    store.add([_record(1, batch=1)])
    issued = store.get(f"{1:032x}")
    assert issued is not None
    start = threading.Barrier(8)
    won: list[int] = []

    def answer(i: int) -> None:
        start.wait()
        if store.transition(issued, _committed(issued, committed_at=1_000_000.0 + i)):
            won.append(i)

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert store.get(_cid(issued)) == _committed(issued, committed_at=1_000_000.0 + won[0])


def test_purge_forgets_expired_challenges_and_their_claims(new_store: NewStore) -> None:
    store = new_store()
    old = [_record(1, batch=1, expires_at=1_000_060.0), _record(2, batch=1, index=1)]
    young = [_record(3, batch=2, expires_at=1_000_500.0)]
    store.add(old, {_cid(r): f'{{"for":"{_cid(r)}"}}' for r in old})
    store.add(young, {_cid(r): f'{{"for":"{_cid(r)}"}}' for r in young})
    assert store.purge(now=1_000_060.0 + 100.0, retention_s=100.0) == 0  # not more than 100 s
    assert store.purge(now=1_000_060.0 + 100.5, retention_s=100.0) == 2
    for record in old:
        assert store.get(_cid(record)) is None
        assert store.claim(_cid(record)) is None
    assert store.batch(f"{1:032x}") is None
    assert store.batch(f"{2:032x}") == young
    assert store.claim(_cid(young[0])) == f'{{"for":"{_cid(young[0])}"}}'
    assert store.purge(now=1_000_060.0 + 100.5, retention_s=100.0) == 0


def test_claims_are_stored_with_their_challenges(new_store: NewStore) -> None:
    store = new_store()
    batch = [_record(1, batch=1), _record(2, batch=1, index=1)]
    store.add(batch, {_cid(batch[0]): '{"provider":"0xabc"}'})
    assert store.claim(_cid(batch[0])) == '{"provider":"0xabc"}'
    assert store.claim(_cid(batch[1])) is None  # claims are optional
    assert store.claim(f"{3:032x}") is None
    store.add([_record(4, batch=2)])
    assert store.claim(f"{4:032x}") is None


def test_claims_belong_to_challenges_of_the_batch(new_store: NewStore) -> None:
    store = new_store()
    store.add([_record(1, batch=1)])
    # A claim for a challenge stored earlier, or for one stored nowhere: the batch is refused.
    for stray in (f"{1:032x}", f"{99:032x}"):
        with pytest.raises(ValueError, match="not in the batch"):
            store.add([_record(2, batch=2)], {f"{2:032x}": '{"gpu":0}', stray: '{"gpu":9}'})
        assert store.get(f"{2:032x}") is None and store.batch(f"{2:032x}") is None
        assert store.claim(f"{2:032x}") is None and store.claim(stray) is None
    assert store.get(f"{1:032x}") == _record(1, batch=1)


def test_issued_challenges_are_stored_with_their_claims(make_oracle: MakeOracle) -> None:
    oracle = make_oracle()
    seen: list[tuple[Challenge, ...]] = []

    def claims_for(challenges: tuple[Challenge, ...]) -> dict[str, str]:
        # The challenges are not stored yet when their claims are made.
        assert all(oracle.store.get(c.challenge_id) is None for c in challenges)
        seen.append(challenges)
        return {c.challenge_id: f'{{"gpu":{c.device_index}}}' for c in challenges}

    batch = oracle.issuer.issue(
        model_id="cpu", params=TINY, peak_tops=1e-3, gpu_count=3, claims=claims_for
    )
    assert seen == [batch.challenges]
    for c in batch.challenges:
        assert oracle.store.get(c.challenge_id) == ChallengeRecord(c)
        assert oracle.store.claim(c.challenge_id) == f'{{"gpu":{c.device_index}}}'


def test_no_challenge_is_stored_when_its_claims_cannot_be_made(make_oracle: MakeOracle) -> None:
    oracle = make_oracle()
    issued: list[Challenge] = []

    def claims_for(challenges: tuple[Challenge, ...]) -> dict[str, str]:
        issued.extend(challenges)
        raise RuntimeError("no claim")

    with pytest.raises(RuntimeError, match="no claim"):
        oracle.issuer.issue(model_id="cpu", params=TINY, peak_tops=1e-3, claims=claims_for)
    assert len(issued) == 1
    assert oracle.store.get(issued[0].challenge_id) is None
    assert oracle.store.batch(issued[0].batch_id) is None


# ---------------------------------------------------------------------------- SQLite


def test_the_encoding_is_deterministic_and_round_trips() -> None:
    for record in (_record(1, batch=1), _committed(_record(2, batch=1)), consumed(_record(3, 1))):
        text = encode_record(record)
        assert decode_record(text) == record
        assert encode_record(decode_record(text)) == text
    # An integer clock reading encodes like the same float.
    record = _committed(_record(4, batch=1))
    assert encode_record(replace(record, committed_at=1_000_001)) == encode_record(
        replace(record, committed_at=1_000_001.0)
    )


def test_records_and_claims_survive_a_new_connection(tmp_path: Path) -> None:
    path = tmp_path / "oracle.sqlite3"
    before = SqliteChallengeStore(path)
    batch = [_record(9 - i, batch=1, index=i) for i in range(3)]
    before.add(batch, {_cid(batch[1]): '{"gpu":1}'})
    assert before.transition(batch[0], _committed(batch[0]))
    before.close()

    after = SqliteChallengeStore(path)
    assert after.batch(f"{1:032x}") == [_committed(batch[0]), *batch[1:]]
    assert after.claim(_cid(batch[1])) == '{"gpu":1}'
    # A transition from the record as it was before the committed one is still refused.
    assert after.transition(batch[0], consumed(batch[0])) is False
    after.close()


def test_claims_that_cannot_be_written_take_their_challenges_with_them(tmp_path: Path) -> None:
    path = tmp_path / "oracle.sqlite3"
    store = SqliteChallengeStore(path)
    with store.transaction() as db:
        db.execute(
            "CREATE TRIGGER no_claims BEFORE INSERT ON challenge_claims "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    batch = [_record(1, batch=1), _record(2, batch=1, index=1)]
    with pytest.raises(sqlite3.DatabaseError, match="disk full"):
        store.add(batch, {_cid(r): '{"gpu":0}' for r in batch})
    store.close()

    after = SqliteChallengeStore(path)
    assert after.batch(f"{1:032x}") is None
    assert after.query("SELECT COUNT(*) FROM challenges") == [(0,)]
    after.close()


def test_two_connections_on_one_file_accept_one_transition(tmp_path: Path) -> None:
    path = tmp_path / "oracle.sqlite3"
    a, b = SqliteChallengeStore(path), SqliteChallengeStore(path)
    a.add([_record(1, batch=1)])
    seen_a, seen_b = a.get(f"{1:032x}"), b.get(f"{1:032x}")
    assert seen_a is not None and seen_a == seen_b
    assert a.transition(seen_a, _committed(seen_a)) is True
    assert b.transition(seen_a, consumed(seen_a)) is False
    assert b.get(f"{1:032x}") == _committed(seen_a)
    a.close()
    b.close()


def test_it_shares_the_file_of_the_oracle_store(tmp_path: Path) -> None:
    path = tmp_path / "oracle" / "o0" / "oracle.sqlite3"
    node_store = Store(path)
    challenges = SqliteChallengeStore(path)
    challenges.add([_record(1, batch=1)])
    assert node_store.enqueue(b"\x01" * 32, {"x": 1})
    assert node_store.use_challenge(b"\x02" * 32, b"\x03" * 32)
    assert challenges.get(f"{1:032x}") == _record(1, batch=1)
    assert node_store.queue_states() == {"pending": 1}
    challenges.close()


def test_a_challenge_outlives_restarts_of_the_oracle(tmp_path: Path) -> None:
    path = tmp_path / "oracle.sqlite3"
    clock = FakeClock()

    def restart() -> tuple[SqliteChallengeStore, Oracle]:
        store = SqliteChallengeStore(path)
        return store, new_oracle(clock=clock, store=store)

    store, oracle = restart()
    batch = oracle.issuer.issue(model_id="cpu", params=TINY, peak_tops=1e-6)
    store.close()
    run = NumpyProver().run(batch.challenges[0])
    clock.advance(0.25)

    store, oracle = restart()
    request = oracle.verifier.accept_commitment(run.commitment)
    store.close()
    response = run.reveal(request)

    store, oracle = restart()
    result = oracle.verifier.verify(response)
    store.close()
    assert result.challenge_id == batch.challenges[0].challenge_id
    assert result.elapsed_s == pytest.approx(0.25)
    assert result.samples == TINY.samples

    store, oracle = restart()
    for replay in (
        lambda: oracle.verifier.verify(response),
        lambda: oracle.verifier.accept_commitment(run.commitment),
    ):
        with pytest.raises(ReplayedChallengeError) as err:
            replay()
        assert err.value.code == "replayed_challenge"
    store.close()
