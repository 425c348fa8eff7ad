"""The agent's HTTP client of the oracle network: which oracle answers, which refuses and why.

An oracle that cannot be reached (or answers 5xx) is *unavailable*: the agent tries the next.
An oracle that answers a problem+json refusal has decided: the agent reports its ``code``.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from agent.errors import AgentError

log = logging.getLogger("depin.agent")


class OracleRefusedError(AgentError):
    """An oracle refused a request; ``refusal`` is its stable code (``unauthorized_agent``...)."""

    code = "oracle_refused"

    def __init__(self, oracle: str, refusal: str, detail: str, status: int) -> None:
        self.oracle = oracle
        self.refusal = refusal
        self.detail = detail
        self.status = status
        super().__init__(f"oracle {oracle} refused ({refusal}): {detail}")


class OracleUnavailableError(AgentError):
    """An oracle did not answer (down, unreachable, timing out or failing with 5xx)."""

    code = "oracle_unavailable"
    retryable = True

    def __init__(self, oracle: str, reason: str) -> None:
        self.oracle = oracle
        self.reason = reason
        super().__init__(f"oracle {oracle} is unavailable: {reason}")


class OraclesUnavailableError(AgentError):
    """Not enough oracles answered to go on; safe to retry later."""

    code = "oracles_unavailable"
    retryable = True


class OracleClient:
    """JSON over HTTP to one oracle base URL."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url.rstrip("/")
        self.http = http
        self._info: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"OracleClient({self.url})"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        timeout: float | None = None,
    ) -> Any:
        try:
            response = self.http.request(
                method,
                self.url + path,
                json=json,
                params=params,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise OracleUnavailableError(self.url, f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise OracleUnavailableError(self.url, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                problem = response.json()
                code, detail = str(problem["code"]), str(problem.get("detail", ""))
            except (ValueError, KeyError, TypeError):
                code, detail = f"http_{response.status_code}", response.text[:200]
            raise OracleRefusedError(self.url, code, detail, response.status_code)
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def info(self) -> dict[str, Any]:
        """``GET /v1/info``, cached once it answered."""
        if self._info is None:
            info: dict[str, Any] = self.get("/v1/info", timeout=5.0)
            self._info = info
        return self._info

    def transmits(self) -> bool:
        """Whether this oracle sends transactions (assumed when its info is unknown)."""
        try:
            return bool(self.info().get("transmitter", True))
        except (OracleUnavailableError, OracleRefusedError):
            return True
