"""The agent's /metrics (its dedicated port): heartbeats sent, by what each oracle answered."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import httpx
from eth_account import Account
from metrics_helpers import Samples, parse_samples

from agent.daemon import AgentDaemon, DaemonConfig
from depin import metrics
from depin.eip712 import Domain


def scrape(url: str) -> Samples:
    return parse_samples(httpx.get(url, timeout=5).text)


def _oracles(request: httpx.Request) -> httpx.Response:
    """``accepts`` takes every heartbeat, ``refuses`` refuses it, ``down`` is unreachable."""
    if request.url.host == "accepts":
        return httpx.Response(200, json={"epoch": 1, "indices": [0]})
    if request.url.host == "refuses":
        problem = {"type": "urn:depin:problem:stale_epoch", "code": "stale_epoch", "status": 409}
        return httpx.Response(409, json={**problem, "title": "stale", "detail": "stale"})
    raise httpx.ConnectError("down", request=request)


def test_heartbeats_sent_are_counted_by_each_oracles_answer() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    assert metrics.serve(port, host="127.0.0.1")
    url = f"http://127.0.0.1:{port}/metrics"
    domain = Domain("AttestationOracle", "1", 31337, "0x" + "00" * 20)
    client: Any = SimpleNamespace(domain=domain, config=lambda: SimpleNamespace(threshold=2))
    daemon = AgentDaemon(
        DaemonConfig(provider="0x" + "00" * 20),
        Account.create(),
        client,
        ["http://accepts", "http://refuses", "http://down"],
        lambda: None,  # type: ignore[arg-type,return-value]
        http=httpx.Client(transport=httpx.MockTransport(_oracles)),
        clock=lambda: 120.0,
    )
    daemon._epoch_length = 60
    gpu = SimpleNamespace(claim=SimpleNamespace(key=b"\x01" * 32, record=SimpleNamespace(uuid="")))
    daemon.current = [gpu]  # type: ignore[list-item]
    name = "depin_agent_heartbeats_sent_total"
    before = scrape(url)
    assert daemon.heartbeat() == 1
    after = scrape(url)
    for outcome in ("accepted", "refused", "unreachable"):
        key = (name, (("outcome", outcome),))
        assert after.get(key, 0) - before.get(key, 0) == 1, outcome
