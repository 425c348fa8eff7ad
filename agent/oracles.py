"""The agent's HTTP client of the oracle network: which oracle answers, which refuses and why.

Requests and answers are the models of :mod:`depin.wire`, the same the oracle validates.
An oracle that cannot be reached (or answers 5xx) is *unavailable*: the agent tries the next.
An oracle that answers a problem+json refusal has decided: the agent reports its ``code``, a
:class:`~depin.wire.RefusalCode` where the oracle sent a known one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from agent.errors import AgentError
from depin.errors import facts
from depin.problems import Problem
from depin.wire import (
    Approval,
    AttestationRequest,
    Bundle,
    BundleReceipt,
    CommitRequest,
    CommitResponse,
    HeartbeatReceipt,
    HeartbeatRequest,
    Info,
    ProofChallenge,
    RefusalCode,
    RevealBody,
    RevealResult,
)

log = logging.getLogger("depin.agent")

_Answer = TypeVar("_Answer", bound=BaseModel)


@facts
class OracleRefusedError(AgentError):
    """An oracle refused a request; ``refusal`` is its stable code
    (:attr:`RefusalCode.UNAUTHORIZED_AGENT`...), or ``http_<status>`` when the answer was not
    a problem document with a known code."""

    code = "oracle_refused"
    template = "oracle {oracle} refused ({refusal}): {detail}"
    oracle: str
    refusal: RefusalCode | str
    detail: str
    status: int


@facts
class OracleUnavailableError(AgentError):
    """An oracle did not answer (down, unreachable, timing out or failing with 5xx)."""

    code = "oracle_unavailable"
    retryable = True
    template = "oracle {oracle} is unavailable: {reason}"
    oracle: str
    reason: str


class OraclesUnavailableError(AgentError):
    """Not enough oracles answered to go on; safe to retry later."""

    code = "oracles_unavailable"
    retryable = True


def _refusal(response: httpx.Response) -> tuple[RefusalCode | str, str]:
    """The code and detail of a refused request's problem document."""
    try:
        problem = Problem.model_validate(response.json())
    except (ValueError, ValidationError):
        return f"http_{response.status_code}", response.text[:200]
    try:
        return RefusalCode(problem.code), problem.detail
    except ValueError:
        return problem.code, problem.detail


class OracleClient:
    """The oracle API at one base URL, in the models of :mod:`depin.wire`."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url.rstrip("/")
        self.http = http
        self._info: Info | None = None

    def __repr__(self) -> str:
        return f"OracleClient({self.url})"

    def _call(
        self,
        method: str,
        path: str,
        answer: type[_Answer],
        *,
        body: BaseModel | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> _Answer:
        try:
            response = self.http.request(
                method,
                self.url + path,
                json=body.model_dump(mode="json", exclude_none=True) if body is not None else None,
                params=params,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise OracleUnavailableError(self.url, f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise OracleUnavailableError(self.url, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            code, detail = _refusal(response)
            raise OracleRefusedError(self.url, code, detail, response.status_code)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as exc:
            raise OracleUnavailableError(
                self.url, f"answered {path} with a body that is not a {answer.__name__}: {exc}"
            ) from None

    # ------------------------------------------------------------------ the oracle

    def info(self) -> Info:
        """``GET /v1/info``, cached once it answered."""
        if self._info is None:
            self._info = self._call("GET", "/v1/info", Info, timeout=5.0)
        return self._info

    def transmits(self) -> bool:
        """Whether this oracle sends transactions (assumed when its info is unknown)."""
        try:
            return self.info().transmitter
        except (OracleUnavailableError, OracleRefusedError):
            return True

    def address(self) -> str:
        """The oracle's address, or ``""`` when its info is unknown."""
        try:
            return self.info().oracle
        except (OracleUnavailableError, OracleRefusedError):
            return ""

    # ------------------------------------------------------------------ proof of compute

    def challenge(
        self, provider: str, agent: str, model: str, gpu_keys: Sequence[bytes]
    ) -> ProofChallenge:
        """``GET /v1/challenge`` with a claim: one proof-of-compute challenge per GPU."""
        params = {
            "provider": provider,
            "agent": agent,
            "model": model,
            "gpu": ["0x" + key.hex() for key in gpu_keys],
        }
        return self._call("GET", "/v1/challenge", ProofChallenge, params=params)

    def commit(self, request: CommitRequest) -> CommitResponse:
        """``POST /v1/proofs/commit``: the rows the oracle wants opened."""
        return self._call("POST", "/v1/proofs/commit", CommitResponse, body=request)

    def reveal(self, body: RevealBody) -> RevealResult:
        """``POST /v1/proofs/reveal``: the verdict and a certificate per GPU."""
        return self._call("POST", "/v1/proofs/reveal", RevealResult, body=body)

    # ------------------------------------------------------------------ attestations

    def attest(self, request: AttestationRequest) -> Approval:
        """``POST /v1/attestations``: this oracle's approval of a signed attestation."""
        return self._call("POST", "/v1/attestations", Approval, body=request)

    def bundle(self, bundle: Bundle) -> BundleReceipt:
        """``POST /v1/bundles``: an attestation approved by t oracles, for the transmitter."""
        return self._call("POST", "/v1/bundles", BundleReceipt, body=bundle)

    def heartbeat(self, request: HeartbeatRequest, *, timeout: float = 5.0) -> HeartbeatReceipt:
        """``POST /v1/heartbeats``: which attested GPUs are up this epoch."""
        return self._call("POST", "/v1/heartbeats", HeartbeatReceipt, body=request, timeout=timeout)
