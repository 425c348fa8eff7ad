"""The proof service on the node's SQLite file, without a chain: what a challenge was issued for
outlives a restart, and the certificate is made from it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from attest_helpers import H100
from clock_helpers import FakeClock
from eth_account import Account
from eth_account.signers.local import LocalAccount

from agent.prover import NumpyProver, run_batch
from depin.attestation import gpu_key, model_bytes
from depin.attestation_client import OracleConfig
from depin.eip712 import Domain
from depin.proof import ProofParams
from oracle.errors import Refusal
from oracle.proof import SqliteChallengeStore
from oracle.proof_service import ProofService

SIM = "sim:" + H100
TINY = ProofParams(rows=32, inner=64, cols=32, rounds=4, samples=4)
DOMAIN = Domain("AttestationOracle", "1", 31337, "0x" + "11" * 20)


def _service(
    path: Path, account: LocalAccount, clock: FakeClock, store: SqliteChallengeStore | None = None
) -> ProofService:
    def config() -> OracleConfig:
        raise AssertionError("a proof needs no oracle config")

    return ProofService(
        account,
        DOMAIN,
        config,
        allow_simulated=True,
        sim_params=TINY,
        clock=clock,
        store=store if store is not None else SqliteChallengeStore(path),
    )


def test_a_restarted_service_certifies_what_the_challenge_was_issued_for(tmp_path: Path) -> None:
    path, account, clock = tmp_path / "oracle.sqlite3", Account.create(), FakeClock(1_700_000_000.0)
    provider, agent = Account.create().address, Account.create().address
    keys = [gpu_key("nvidia", f"GPU-{i}") for i in range(2)]
    issued = _service(path, account, clock).issue(provider, agent, SIM, keys)
    runs = run_batch(issued.batch, lambda _: NumpyProver())
    clock.now += 1.0

    requests = _service(path, account, clock).commit(
        issued.batch.batch_id, [r.commitment for r in runs]
    )
    responses = [r.reveal(q) for r, q in zip(runs, requests, strict=True)]
    verified = _service(path, account, clock).reveal(issued.batch.batch_id, responses)

    assert [r.challenge_id for r, _, _ in verified] == [
        c.challenge_id for c in issued.batch.challenges
    ]
    for (_, certificate, _), claim in zip(verified, issued.claims, strict=True):
        assert certificate.issuer == account.address
        assert (certificate.provider, certificate.agent) == (provider, agent)
        assert certificate.gpu_key == claim.gpu_key
        assert certificate.model == model_bytes(SIM)
        assert certificate.challenge == claim.challenge
    assert [c.gpu_key for _, c, _ in verified] == keys


def test_every_issued_challenge_is_stored_with_its_claim(tmp_path: Path) -> None:
    path, account, clock = tmp_path / "oracle.sqlite3", Account.create(), FakeClock(1_700_000_000.0)
    keys = [gpu_key("nvidia", f"GPU-{i}") for i in range(3)]
    before = SqliteChallengeStore(path)
    issued = _service(path, account, clock, before).issue(
        Account.create().address, Account.create().address, SIM, keys
    )
    before.close()

    # What another process on the file (or the oracle after a restart) reads.
    store = SqliteChallengeStore(path)
    records = store.batch(issued.batch.batch_id)
    assert records is not None
    assert [r.challenge for r in records] == list(issued.batch.challenges)
    assert [store.claim(c.challenge_id) for c in issued.batch.challenges] == [
        claim.to_json() for claim in issued.claims
    ]
    assert [claim.gpu_key for claim in issued.claims] == keys
    store.close()


def test_claims_that_cannot_be_stored_leave_no_challenge(tmp_path: Path) -> None:
    path, account, clock = tmp_path / "oracle.sqlite3", Account.create(), FakeClock(1_700_000_000.0)
    before = SqliteChallengeStore(path)
    with before.transaction() as db:
        db.execute(
            "CREATE TRIGGER no_claims BEFORE INSERT ON challenge_claims "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    service = _service(path, account, clock, before)
    with pytest.raises(sqlite3.DatabaseError, match="disk full"):
        service.issue(Account.create().address, Account.create().address, SIM, [b"\x01" * 32])
    before.close()

    store = SqliteChallengeStore(path)
    assert store.query("SELECT COUNT(*) FROM challenges") == [(0,)]
    store.close()


def test_a_challenge_without_its_claim_gets_no_certificate(tmp_path: Path) -> None:
    path, account, clock = tmp_path / "oracle.sqlite3", Account.create(), FakeClock(1_700_000_000.0)
    service = _service(path, account, clock)
    issued = service.issue(Account.create().address, Account.create().address, SIM, [b"\x01" * 32])
    # A stored challenge whose claim is gone (the file edited by hand, or damaged).
    store = SqliteChallengeStore(path)
    with store.transaction() as db:
        db.execute("DELETE FROM challenge_claims")
    store.close()
    runs = run_batch(issued.batch, lambda _: NumpyProver())
    clock.now += 1.0
    requests = service.commit(issued.batch.batch_id, [r.commitment for r in runs])
    with pytest.raises(Refusal) as err:
        service.reveal(issued.batch.batch_id, [runs[0].reveal(requests[0])])
    assert err.value.code == "unknown_challenge"
