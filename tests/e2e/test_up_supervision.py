"""``depin up`` keeps the stack running and stops it fast: a crashed service is started again
after a backoff, the chain's loss stops everything, and SIGINT leaves no process behind within
5 s. The supervisor on small real processes first, then the real stack."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_helpers import start_up, wait_for

from depin._cli.supervisor import (
    EssentialServiceExited,
    Service,
    Supervisor,
    backoff,
    ordinal,
    stop_group,
)
from depin.chain import free_port

PY = sys.executable


def _state(pid: int) -> str | None:
    """The process's state letter from /proc, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for a parent that is gone."""
    return _state(pid) not in (None, "Z", "X")


def _in_sessions(sessions: set[int]) -> list[int]:
    """Live processes whose session is one of ``sessions`` (a service and all it spawned)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[3]) in sessions:
            found.append(int(entry.name))
    return found


def _wait(what: str, check: Callable[[], Any], timeout: float, log: Path | None = None) -> Any:
    return wait_for(what, check, timeout, log, every=0.2)


# --- the supervisor on small processes ------------------------------------------------------


def test_backoff_doubles_from_one_second_to_thirty() -> None:
    assert [backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st",
    ]  # fmt: skip


def test_a_crashing_service_is_restarted_with_growing_backoff_reset_after_a_healthy_minute(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    lines: list[str] = []
    supervisor = Supervisor(tmp_path / "logs", report=lines.append, clock=lambda: now[0])
    crash = Service("crash", [PY, "-c", "import sys, time; time.sleep(0.3); sys.exit(1)"])
    supervisor.start(crash)
    pids = [crash.pid]

    def crash_and_poll() -> None:
        assert crash.process is not None
        crash.process.wait(timeout=10)
        supervisor.poll()

    def advance_and_restart(seconds: float) -> None:
        now[0] += seconds
        supervisor.poll()
        assert crash.alive()
        pids.append(crash.pid)

    try:
        crash_and_poll()
        assert lines[-1].startswith("crash exited with code 1; restarting in 1 s (1st restart)")
        now[0] += 0.5
        supervisor.poll()
        assert not crash.alive()  # not before its time
        advance_and_restart(0.5)
        crash_and_poll()
        assert lines[-1].startswith("crash exited with code 1; restarting in 2 s (2nd restart)")
        advance_and_restart(2)
        crash_and_poll()
        assert lines[-1].startswith("crash exited with code 1; restarting in 4 s (3rd restart)")
        advance_and_restart(4)
        now[0] += 61  # a minute of health since its last start
        crash_and_poll()
        assert lines[-1].startswith("crash exited with code 1; restarting in 1 s (1st restart)")
    finally:
        supervisor.stop_all()

    assert len(set(pids)) == 4
    log = (tmp_path / "logs" / "supervisor.log").read_text()
    assert "crash exited with code 1; restarting in 4 s (3rd restart)" in log
    for pid in pids:
        assert f"crash started (pid {pid})" in log


def test_a_service_killed_by_a_signal_is_reported_by_the_signal_name(tmp_path: Path) -> None:
    lines: list[str] = []
    supervisor = Supervisor(tmp_path / "logs", report=lines.append)
    service = supervisor.start(Service("sleeper", [PY, "-c", "import time; time.sleep(60)"]))
    try:
        assert service.pid is not None
        os.kill(service.pid, signal.SIGKILL)
        assert service.process is not None
        service.process.wait(timeout=10)
        supervisor.poll()
        assert lines[-1].startswith("sleeper was killed by SIGKILL; restarting in 1 s")
    finally:
        supervisor.stop_all()


def test_the_loss_of_an_essential_process_stops_instead_of_restarting(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", report=lambda _: None)
    chain = subprocess.Popen([PY, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"])
    supervisor.adopt("anvil", chain, essential=True)
    other = supervisor.start(Service("other", [PY, "-c", "import time; time.sleep(60)"]))
    try:
        chain.wait(timeout=10)
        with pytest.raises(EssentialServiceExited) as raised:
            supervisor.run(lambda: False, interval=0.05)
        assert raised.value.name == "anvil"
        assert raised.value.how == "exited with code 3"
        assert "the stack cannot run without it" in str(raised.value)
    finally:
        other_pid = other.pid
        supervisor.stop_all()
    assert other_pid is not None and not _running(other_pid)


STUBBORN = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    subprocess.Popen([sys.executable, "-c", child])
    time.sleep(600)
    """
)


def test_stop_all_terminates_every_group_at_once_and_kills_what_ignores_sigterm(
    tmp_path: Path,
) -> None:
    supervisor = Supervisor(tmp_path / "logs", report=lambda _: None)
    services = [
        Service(f"stubborn-{i}", [PY, "-c", STUBBORN], ready=lambda: True) for i in range(3)
    ] + [Service("polite", [PY, "-c", "import time; time.sleep(600)"])]
    supervisor.start_together(services)
    sessions = {s.pid for s in services if s.pid is not None}
    _wait("the grandchildren to start", lambda: len(_in_sessions(sessions)) >= 7, 20)
    pids = json.loads((tmp_path / "logs" / "pids.json").read_text())
    assert set(pids) == {"up", "stubborn-0", "stubborn-1", "stubborn-2", "polite"}

    started = time.monotonic()
    supervisor.stop_all(grace=1.0)
    elapsed = time.monotonic() - started

    assert elapsed < 2.5  # one grace period for all, not one per service
    assert _in_sessions(sessions) == []
    assert not (tmp_path / "logs" / "pids.json").exists()


# --- the real stack -------------------------------------------------------------------------

STARTED = re.compile(r"(\S+) started \(pid (\d+)\)")


@dataclass
class Up:
    home: Path
    log: Path
    api: str
    oracles: list[str]
    process: subprocess.Popen[bytes]

    @property
    def supervisor_log(self) -> Path:
        return self.home / "logs" / "supervisor.log"

    def pids(self) -> dict[str, int]:
        data: dict[str, int] = json.loads((self.home / "logs" / "pids.json").read_text())
        return data

    def every_child_pid(self) -> dict[int, str]:
        """Each process the supervisor ever started, from its log."""
        return {int(pid): name for name, pid in STARTED.findall(self.supervisor_log.read_text())}


def _free_run(n: int) -> int:
    """A port p with p .. p+n-1 all free now (the oracles take consecutive ports)."""
    for _ in range(50):
        base = free_port()
        sockets = []
        try:
            for port in range(base, base + n):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError(f"no {n} consecutive free ports")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    tmp = tmp_path_factory.mktemp("up")
    home = tmp / "home"
    chain_port, api_port, oracle_port = free_port(), free_port(), _free_run(3)
    log = tmp / "up.log"
    process = start_up(home, log, chain_port, api_port, oracle_port)
    stack = Up(
        home,
        log,
        f"http://127.0.0.1:{api_port}",
        [f"http://127.0.0.1:{oracle_port + i}" for i in range(3)],
        process,
    )
    try:
        _wait("depin up to be ready", lambda: "ready in" in log.read_text(), 180, log)
        yield stack
    finally:
        stop_group(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).is_success
    except httpx.HTTPError:
        return False


@pytest.mark.integration
@pytest.mark.slow
def test_an_oracle_killed_with_sigkill_is_restarted_and_the_stack_stays_ready(up: Up) -> None:
    victim = up.pids()["oracle-1"]
    os.kill(victim, signal.SIGKILL)

    line = "oracle-1 was killed by SIGKILL; restarting in 1 s (1st restart)"
    _wait("the supervisor to report the restart", lambda: line in up.supervisor_log.read_text(), 30)
    _wait("the restart on the console", lambda: line in up.log.read_text(), 10, up.log)
    _wait("a new oracle-1 process", lambda: up.pids().get("oracle-1") not in (None, victim), 30)
    _wait("oracle-1 to answer again", lambda: _answers(up.oracles[1] + "/v1/info"), 60, up.log)

    assert up.process.poll() is None  # the stack kept running
    assert all(_answers(url + "/v1/info") for url in up.oracles)
    assert _answers(up.api + "/v1/health")


@pytest.mark.integration
@pytest.mark.slow
def test_sigint_stops_the_whole_stack_within_5_seconds_and_leaves_no_process(up: Up) -> None:
    children = up.every_child_pid()
    assert {"anvil", "oracle-0", "oracle-1", "oracle-2", "indexer", "api"} <= set(children.values())
    # Each service leads its own session; anvil is in depin up's.
    sessions = {pid for pid, name in children.items() if name != "anvil"} | {up.process.pid}
    assert [pid for pid in children if _running(pid)], "nothing was running before the stop"

    started = time.monotonic()
    os.kill(up.process.pid, signal.SIGINT)
    up.process.wait(timeout=30)
    elapsed = time.monotonic() - started
    print(f"depin up stopped in {elapsed:.2f}s")

    assert elapsed < 5.0, f"depin up took {elapsed:.1f}s to stop"
    left = {pid: name for pid, name in children.items() if _running(pid)}
    assert left == {}, f"still running after depin up exited: {left}"
    assert _in_sessions(sessions) == []
