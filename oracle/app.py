"""The oracle's HTTP API (FastAPI). Refusals are RFC 9457 problem+json with a stable ``code``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from depin import metrics
from depin.problems import problem_response
from depin.proof import ProofError
from depin.wire import (
    Address,
    Approval,
    AttestationRequest,
    Bundle,
    BundleReceipt,
    CertificateBody,
    ChallengeToken,
    CommitRequest,
    CommitResponse,
    CoSignature,
    CosignRequest,
    EvidenceRequest,
    EvidenceResponse,
    GpuChallenge,
    HeartbeatReceipt,
    HeartbeatRequest,
    Info,
    LivenessCosignRequest,
    ProofChallenge,
    RevealBody,
    RevealResult,
)
from oracle.errors import (
    PROOF_STATUS,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    Refusal,
    UnauthorizedAgent,
    UnknownGpu,
)
from oracle.limits import RequestLimits
from oracle.node import OracleNode, queue_bundle


async def _next_poll(node: OracleNode, timeout: float = 1.5) -> bool:
    """Waits (without a thread) until the chain facts have read the blocks mined by now."""
    target = node.facts.polls + 2  # the poll under way may have started before this call
    deadline = time.monotonic() + timeout
    while node.facts.polls < target:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def get_node(request: Request) -> OracleNode:
    node: OracleNode = request.app.state.node
    return node


NodeDep = Annotated[OracleNode, Depends(get_node)]

#: the routes whose refusals are counted by reason
_REFUSALS = {
    "/v1/attestations": metrics.ATTESTATIONS_REFUSED,
    "/v1/heartbeats": metrics.HEARTBEATS_REFUSED,
}


def _count_refusal(request: Request, code: str) -> None:
    counter = _REFUSALS.get(request.scope.get("path", ""))
    if counter is not None:
        counter.labels(code).inc()


def create_app(node: OracleNode, *, transmit: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        thread = None
        if transmit:
            thread = threading.Thread(target=node.transmitter.run, name="transmitter", daemon=True)
            thread.start()
        if node.forwarder is not None:
            node.forwarder.start()
        yield
        node.transmitter.stop()
        if thread is not None:
            thread.join(timeout=5)

    app = FastAPI(title="depin oracle", version="1", lifespan=lifespan)
    limits = node.settings
    app.add_middleware(
        RequestLimits,
        max_body=limits.max_body_bytes,
        max_peer_body=limits.max_peer_body_bytes,
        rate=limits.rate_per_agent,
        burst=limits.burst_per_agent,
    )

    app.state.node = node
    metrics.install(app)

    def answer(refusal: Refusal, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return problem_response(refusal.code, refusal.status, refusal.detail, headers=headers)

    @app.exception_handler(Refusal)
    async def refusal(request: Request, exc: Refusal) -> JSONResponse:
        _count_refusal(request, exc.code)
        return answer(exc)

    @app.exception_handler(ProofError)
    async def proof_refusal(request: Request, exc: ProofError) -> JSONResponse:
        _count_refusal(request, exc.code)
        return problem_response(exc.code, PROOF_STATUS.get(exc.code, 422), exc.message)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = MalformedRequest(f"the request does not match the schema: {exc.errors()[:3]}")
        _count_refusal(request, refused.code)
        return answer(refused)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """No route (404), a route without this method (405, with ``Allow``), or a body that
        cannot be read: problems like every other refusal."""
        path = request.url.path
        if exc.status_code == 404:
            return answer(NotFound(path))
        if exc.status_code == 405:
            return answer(MethodNotAllowed(request.method, path), headers=exc.headers)
        refused = MalformedRequest(str(exc.detail))
        return problem_response(refused.code, exc.status_code, refused.detail, headers=exc.headers)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/info", response_model=Info)
    def info(n: NodeDep) -> Info:
        config = n.chain.config()
        return Info(
            oracle=n.account.address,
            config_version=config.version,
            threshold=config.threshold,
            oracles=list(config.oracles),
            chain_id=n.client.domain.chain_id,
            attestation_oracle=n.client.address,
            epoch_length=n.chain.epoch_length,
            queue=n.store.queue_states(),
            transmitter=transmit,
            allow_simulated=n.allow_simulated,
            require_proof=n.settings.require_proof,
        )

    @app.get("/v1/challenge", response_model=ProofChallenge | ChallengeToken)
    def challenge(
        n: NodeDep,
        provider: Address | None = None,
        agent: Address | None = None,
        model: str | None = None,
        gpu: Annotated[list[str] | None, Query()] = None,
    ) -> ProofChallenge | ChallengeToken:
        """With a claim (``provider``, ``agent``, ``model`` and one ``gpu`` key per GPU): one
        proof-of-compute challenge per GPU. Without: a plain single-use nonce token, which
        only an oracle that does not require proofs accepts."""
        if provider is None and agent is None and model is None and not gpu:
            return n.pipeline.issue_challenge()
        if provider is None or agent is None or model is None or not gpu:
            raise MalformedRequest("a claim needs provider, agent, model and at least one gpu")
        try:
            keys = [bytes.fromhex(k[2:] if k.startswith("0x") else k) for k in gpu]
        except ValueError:
            raise MalformedRequest("gpu keys are 0x-prefixed hex") from None
        if any(len(k) != 32 for k in keys):
            raise MalformedRequest("a gpu key has 32 bytes")
        if not n.chain.authorized(provider, agent):
            raise UnauthorizedAgent(provider, agent)
        issued = n.proofs.issue(provider, agent, model, keys)
        return ProofChallenge(
            issuer=n.account.address,
            batch=issued.batch,
            gpus=[
                GpuChallenge(gpu_key=c.gpu_key, challenge_id=ch.challenge_id, challenge=c.challenge)
                for c, ch in zip(issued.claims, issued.batch.challenges, strict=True)
            ],
        )

    @app.post("/v1/proofs/commit", response_model=CommitResponse)
    def commit(body: CommitRequest, n: NodeDep) -> CommitResponse:
        """The commitments of every GPU of a challenge batch; answers with the rows to open."""
        return CommitResponse(requests=n.proofs.commit(body.batch_id, body.commitments))

    @app.post("/v1/proofs/reveal", response_model=RevealResult)
    def reveal(body: RevealBody, n: NodeDep) -> RevealResult:
        """The opened rows; verified, each GPU gets a proof certificate signed by this oracle."""
        verified = n.proofs.reveal(body.batch_id, body.responses)
        return RevealResult(
            results=[r for r, _, _ in verified],
            certificates=[CertificateBody.of(c, sig) for _, c, sig in verified],
        )

    @app.post("/v1/attestations", response_model=Approval)
    def attest(request: AttestationRequest, n: NodeDep) -> Approval:
        """Verifies an agent's attestation; returns this oracle's approval (co-signature)."""
        approval = n.pipeline.approve(request)
        metrics.ATTESTATIONS_APPROVED.inc()
        if request.capabilities is not None and n.forwarder is not None:
            n.forwarder.offer(request.capabilities)
        return approval

    @app.post("/v1/bundles", response_model=BundleReceipt, status_code=202)
    def bundle(body: Bundle, n: NodeDep) -> BundleReceipt:
        """Queues an attestation approved by t oracles for the next ``submit`` transaction."""
        digest, queued = queue_bundle(n, body)
        return BundleReceipt(digest=digest, queued=queued)

    @app.post("/v1/batches/cosign", response_model=CoSignature)
    def cosign(body: CosignRequest, n: NodeDep) -> CoSignature:
        """A peer's batch: signed when this oracle approved every entry."""
        messages = [e.attestation.message() for e in body.entries]
        signature = n.pipeline.cosign_batch(body.config_version, messages)
        return CoSignature(oracle=n.account.address, signature=signature)

    @app.post("/v1/heartbeats", response_model=HeartbeatReceipt)
    async def heartbeat(body: HeartbeatRequest, request: Request) -> Response:
        """Records which attested GPUs of an agent are up in the epoch, with their status.
        Answered from memory (no RPC), once the heartbeat is committed to the node's file."""
        n: OracleNode = request.app.state.node
        try:
            accepted = n.liveness.check(body)
        except UnauthorizedAgent:
            # The agent may have been authorized in a block the facts have not read yet.
            if not await _next_poll(n):
                raise
            accepted = n.liveness.check(body)
        if body.gpu_keys and not accepted.entries:
            if await _next_poll(n):  # an attestation mined after the facts' last read
                accepted = n.liveness.check(body)
            if not accepted.entries:
                raise UnknownGpu()
        await n.book.add(accepted)
        metrics.HEARTBEATS_ACCEPTED.inc()
        indices = ",".join(str(i) for i, _ in accepted.entries)
        return Response(
            f'{{"epoch":{body.epoch},"indices":[{indices}]}}', media_type="application/json"
        )

    @app.post("/v1/liveness/evidence", response_model=EvidenceResponse)
    def evidence(body: EvidenceRequest, n: NodeDep) -> EvidenceResponse:
        """A leader's view of a closed epoch; answers with this oracle's view and the signed
        heartbeats behind each GPU the leader lacks or sees with another status."""
        return n.liveness.evidence(body)

    @app.post("/v1/liveness/cosign", response_model=CoSignature)
    def liveness(body: LivenessCosignRequest, n: NodeDep) -> CoSignature:
        """Signs an epoch's record when every bit is justified by a valid heartbeat, this
        oracle's own or one in ``evidence``."""
        signature = n.liveness.cosign(body)
        return CoSignature(oracle=n.account.address, signature=signature)

    return app
