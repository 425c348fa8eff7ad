"""The oracle's boundary under generated hostile bodies, built from the attestation types'
own fields: never a 5xx, every refusal a problem document with a known code, and the node still
serving after each batch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fuzz_bodies import CASES, FUZZ, body, check_answer, fuzz_posts, hostile, post_raw, raw, valid
from hypothesis import given
from hypothesis import strategies as st

from depin.attestation import GpuAttestation, Heartbeat
from depin.proof.certificate import ProofCertificate
from depin.proof.errors import ProofError
from depin.wire import RefusalCode

pytestmark = pytest.mark.integration

CODES = {c.value for c in RefusalCode} | {
    str(getattr(c, "code", "")) for c in ProofError.__subclasses__()
}

SIGNATURE = (("signature", "bytes65"),)
TOKEN = (
    ("issuer", "address"),
    ("nonce", "bytes32"),
    ("issuedAt", "uint64"),
    ("expiresAt", "uint64"),
    ("challenge", "bytes32"),
    *SIGNATURE,
)
VIEW = (("online", "bytes"), ("available", "bytes"), ("healthy", "bytes"))


def _attestation() -> st.SearchStrategy[dict[str, Any]]:
    return body(GpuAttestation.FIELDS)


def _heartbeat() -> st.SearchStrategy[dict[str, Any]]:
    return body((*Heartbeat.FIELDS, *SIGNATURE))


def _approvals() -> st.SearchStrategy[Any]:
    approval = body((("oracle", "address"), ("configVersion", "uint32"), *SIGNATURE))
    return st.lists(approval, max_size=3) | hostile("bytes32[]")


def _bundle() -> st.SearchStrategy[dict[str, Any]]:
    return body(SIGNATURE, attestation=_attestation(), approvals=_approvals())


BODIES: dict[str, st.SearchStrategy[Any]] = {
    "/v1/attestations": body(
        SIGNATURE,
        attestation=_attestation(),
        proof=body((*ProofCertificate.FIELDS, *SIGNATURE)) | st.none(),
        challenge=body(TOKEN) | st.none(),
    ),
    "/v1/bundles": _bundle(),
    "/v1/batches/cosign": body(
        (("configVersion", "uint32"),), entries=st.lists(_bundle(), max_size=2)
    ),
    "/v1/heartbeats": _heartbeat(),
    "/v1/liveness/evidence": body((("epoch", "uint64"),), view=body(VIEW)),
    "/v1/liveness/cosign": body(
        (("configVersion", "uint32"), ("epoch", "uint64")),
        liveness=body(VIEW),
        evidence=st.lists(_heartbeat(), max_size=2),
    ),
    "/v1/proofs/commit": body(
        (("batchId", "string"),),
        commitments=st.lists(body((("challengeId", "string"), ("root", "bytes32"))), max_size=2),
    ),
    "/v1/proofs/reveal": body(
        (("batchId", "string"),),
        responses=st.lists(body((("challengeId", "string"), ("openings", "bytes[]"))), max_size=2),
    ),
}


def _still_serving(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/v1/info").status_code == 200


@pytest.mark.parametrize("path", sorted(BODIES))
def test_oracle_routes_survive_hostile_bodies(oracle_client: TestClient, path: str) -> None:
    fuzz_posts(oracle_client, path, raw(BODIES[path]), CODES)
    _still_serving(oracle_client)


def test_challenge_survives_hostile_claims(oracle_client: TestClient) -> None:
    claim = (("provider", "address"), ("agent", "address"), ("model", "string"))

    @FUZZ
    @given(params=body(claim, gpu=st.lists(valid("bytes32") | hostile("bytes32"), max_size=3)))
    def run(params: dict[str, Any]) -> None:
        CASES["GET /v1/challenge"] += 1
        query = {k: v if isinstance(v, list) else str(v) for k, v in params.items()}
        check_answer(oracle_client.get("/v1/challenge", params=query), CODES)

    run()
    _still_serving(oracle_client)


@pytest.mark.parametrize("epoch", [-1, 2**64, 2**70, 2**300, "0x" + "f" * 17, 1.5, True, 1e400])
@pytest.mark.parametrize("path", ["/v1/liveness/evidence", "/v1/liveness/cosign", "/v1/heartbeats"])
def test_an_epoch_out_of_uint64_is_refused_as_malformed(
    oracle_client: TestClient, path: str, epoch: Any
) -> None:
    view = {"online": "0x", "available": "0x", "healthy": "0x"}
    payload: dict[str, Any] = {
        "/v1/liveness/evidence": {"epoch": 0, "view": view},
        "/v1/liveness/cosign": {"configVersion": 1, "epoch": 0, "liveness": view},
        "/v1/heartbeats": {
            "provider": "0x" + "12" * 20,
            "agent": "0x" + "34" * 20,
            "gpuKeys": [],
            "epoch": 0,
            "status": "0x",
            "signature": "0x" + "11" * 65,
        },
    }[path]
    text = post_raw(oracle_client, path, b"")  # an empty body is malformed too
    assert text.json()["code"] == "malformed_request"
    data = json.dumps({**payload, "epoch": "EPOCH"}).replace('"EPOCH"', json.dumps(epoch))
    answer = post_raw(oracle_client, path, data.replace("Infinity", "1e400").encode())
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "malformed_request"
    assert "epoch" in answer.json()["detail"]
