"""Child processes for ``depin up``: started in order, each ready before the next, logs in files.

A service that exits is started again after a backoff (1 s doubling to 30 s; the count resets
once it has run for a minute), said on the console and in ``logs/supervisor.log``. A process
marked ``essential`` (the chain) is not restarted: its exit is reported and the stack stops. On
stop every process group gets SIGTERM at once and whatever is left at the deadline gets SIGKILL,
so the whole stack is gone within a few seconds. The pids of every child are in the log and, for
those running now, in ``logs/pids.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from depin.errors import DepinError

ROLE_PREFIXES = ("DEPIN_AGENT_", "DEPIN_ORACLE_", "DEPIN_INDEXER_", "DEPIN_API_")

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
HEALTHY_AFTER_S = 60.0
STOP_GRACE_S = 4.0


def child_environment(env: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``env`` on top, for a child of the stack.

    The stack has one chain and one data folder, given to every child as ``DEPIN_RPC_URL`` and
    ``DEPIN_HOME``: a role's own ``DEPIN_<ROLE>_RPC_URL`` / ``DEPIN_<ROLE>_HOME`` left over in
    this shell would override them, so those are not passed on unless ``env`` names them.
    """
    shadowing = {p + name for p in ROLE_PREFIXES for name in ("HOME", "RPC_URL")}
    inherited = {k: v for k, v in os.environ.items() if k.upper() not in shadowing}
    return {**inherited, **env}


class ServiceError(DepinError):
    code = "service_failed"


class EssentialServiceExited(ServiceError):
    """A process the stack cannot run without (the chain) exited."""

    code = "essential_service_exited"

    def __init__(self, name: str, how: str) -> None:
        super().__init__(f"{name} {how}; the stack cannot run without it, stopping")
        self.name = name
        self.how = how


def http_ready(url: str) -> Callable[[], bool]:
    """A readiness check: ``url`` answers 2xx."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).is_success
        except httpx.HTTPError:
            return False

    return check


def backoff(restart: int, first: float = FIRST_BACKOFF_S, cap: float = MAX_BACKOFF_S) -> float:
    """Seconds to wait before the ``restart``-th restart in a row (1-based): 1, 2, 4, ... 30."""
    return float(min(cap, first * 2 ** (restart - 1)))


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def describe_exit(returncode: int) -> str:
    """``exited with code 1`` or ``was killed by SIGKILL``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with code {returncode}"


@dataclass
class Service:
    """One child process of the local stack.

    A service started by :meth:`start` leads its own session and process group, so stopping it
    reaches whatever it spawned. ``own_group=False`` is for a process started elsewhere and
    adopted (the chain), which is signalled alone.
    """

    name: str
    argv: list[str]
    ready: Callable[[], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0
    essential: bool = False
    own_group: bool = True
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    started_at: float = 0.0
    restarts: int = 0
    restart_at: float | None = None

    def start(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.name}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(self.env),
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServiceError(f"{self.name} exited during start-up; see {self.log_path}")
            if self.ready is None or self.ready():
                return
            time.sleep(0.1)
        raise ServiceError(
            f"{self.name} not ready after {self.ready_timeout:.0f}s; see {self.log_path}"
        )

    def signal(self, sig: signal.Signals) -> None:
        """Sends ``sig`` to the service's process group (or to the adopted process alone)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.own_group:
                os.killpg(self.process.pid, sig)
            elif self.process.poll() is None:
                self.process.send_signal(sig)

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; the process group included."""
        if self.process is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait()
        self.signal(signal.SIGKILL)  # what the leader left behind in its group
        self.process = None


def stop_group(
    process: subprocess.Popen[bytes], timeout: float = 30.0, sig: int = signal.SIGTERM
) -> None:
    """Stops a process started in a session of its own (``start_new_session``) and its whole
    group: ``sig`` (SIGTERM), then SIGKILL after ``timeout``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Supervisor:
    """Starts the stack's services, restarts those that exit, stops them all at once."""

    log_dir: Path
    services: list[Service] = field(default_factory=list)
    report: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / "supervisor.log"
        self.pid_path = self.log_dir / "pids.json"
        self._log(f"depin up started (pid {os.getpid()})")

    def _log(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self.log_path.open("a") as log:
            log.write(f"{stamp} {line}\n")

    def _say(self, line: str) -> None:
        self._log(line)
        self.report(line)

    def _started(self, service: Service) -> None:
        self._log(f"{service.name} started (pid {service.pid})")
        self._write_pids()

    def _write_pids(self) -> None:
        pids = {"up": os.getpid()}
        pids.update({s.name: s.pid for s in self.services if s.pid is not None})
        tmp = self.pid_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(pids, indent=2) + "\n")
        tmp.replace(self.pid_path)

    def adopt(self, name: str, process: subprocess.Popen[bytes], essential: bool = True) -> None:
        """Watches a process started elsewhere (not restarted; stopped with the rest)."""
        service = Service(name, [], essential=essential, own_group=False, process=process)
        service.started_at = self.clock()
        self.services.append(service)
        self._started(service)

    def start(self, service: Service) -> Service:
        self.services.append(service)
        service.start(self.log_dir)
        self._started(service)
        service.wait_ready()
        return service

    def start_together(self, services: list[Service]) -> None:
        """Starts ``services`` at once (they do not depend on each other), then waits for each."""
        for service in services:
            self.services.append(service)
            service.start(self.log_dir)
            self._started(service)
        for service in services:
            service.wait_ready()

    def poll(self) -> None:
        """Notices exits and starts what is due; raises :class:`EssentialServiceExited`."""
        now = self.clock()
        for service in self.services:
            if service.restart_at is not None:
                if now >= service.restart_at:
                    service.restart_at = None
                    service.start(self.log_dir)
                    service.started_at = self.clock()
                    self._started(service)
                continue
            if service.process is None or service.process.poll() is None:
                continue
            how = describe_exit(service.process.returncode)
            service.signal(signal.SIGKILL)  # anything the dead leader left in its group
            if service.essential:
                self._log(f"{service.name} {how}; stopping the stack")
                raise EssentialServiceExited(service.name, how)
            if now - service.started_at >= HEALTHY_AFTER_S:
                service.restarts = 0
            service.restarts += 1
            delay = backoff(service.restarts)
            service.restart_at = now + delay
            service.process = None
            self._say(
                f"{service.name} {how}; restarting in {delay:g} s "
                f"({ordinal(service.restarts)} restart)"
                + (f"; see {service.log_path}" if service.log_path else "")
            )

    def run(self, should_stop: Callable[[], bool], interval: float = 0.2) -> None:
        """Restarts services until ``should_stop()``; raises if an essential one exits."""
        while not should_stop():
            self.poll()
            time.sleep(interval)

    def stop_all(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM to every process group at once, SIGKILL to what is left after ``grace``."""
        running = [s for s in self.services if s.process is not None]
        self._log(f"stopping {len(running)} processes")
        for service in running:
            service.restart_at = None
            service.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        pending = list(running)
        while pending and time.monotonic() < deadline:
            pending = [s for s in pending if s.process is not None and s.process.poll() is None]
            if pending:
                time.sleep(0.05)
        for service in running:
            if service in pending:
                self._log(f"{service.name} still running after {grace:g} s; SIGKILL")
            service.signal(signal.SIGKILL)  # the leader if left, and anything in its group
        for service in running:
            if service.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    service.process.wait(timeout=1.0)
        self._log("stopped")
        self.services.clear()
        self.pid_path.unlink(missing_ok=True)
