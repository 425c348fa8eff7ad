"""Several API worker processes on one host: a nonce issued by one is honoured (once) by
another, the rate limits hold for all of them together, and one relayer transaction is sent
at a time. Each app below is a separate instance on the same home folder, as each worker
process builds its own."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from api_helpers import assert_problem
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from test_api_siwe import nonce, sign, siwe_text

from api.shared import SharedState


def test_a_nonce_from_one_worker_signs_in_on_another_once(
    make_client: Callable[..., TestClient],
) -> None:
    first, second = make_client(), make_client()
    account: LocalAccount = Account.create()
    text = siwe_text(account.address, nonce(first))
    body = {"message": text, "signature": sign(account, text)}
    response = second.post("/v1/auth/verify", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["address"] == account.address
    assert_problem(first.post("/v1/auth/verify", json=body), 409, "nonce_used")


def test_the_rate_limit_is_the_services_not_each_workers(
    make_client: Callable[..., TestClient],
) -> None:
    workers = [make_client(ip_burst=4, ip_rate=0.01) for _ in range(2)]
    answers = [workers[i % 2].get("/v1/auth/nonce").status_code for i in range(6)]
    assert answers == [200, 200, 200, 200, 429, 429]


_HOLDER = """
import sys, time
from pathlib import Path
from api.shared import SharedState
state = SharedState(Path(sys.argv[1]))
with state.relay_lock():
    Path(sys.argv[2]).write_text("held")
    time.sleep(1.0)
    Path(sys.argv[2]).write_text(str(time.time()))
"""


def test_one_relayer_transaction_at_a_time_across_processes(tmp_path: Path) -> None:
    state_path = tmp_path / "api-state.sqlite3"
    marker = tmp_path / "marker"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(state_path), str(marker)],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.read_text() == "held"
        with SharedState(state_path).relay_lock():
            released_at = float(marker.read_text())  # written just before the other let go
            assert time.time() >= released_at
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0
