"""Child processes for ``depin up``: started in order, each ready before the next, logs in files,
stopped in reverse order on Ctrl-C or when one of them dies."""

from __future__ import annotations

import contextlib
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


def http_ready(url: str) -> Callable[[], bool]:
    """A readiness check: ``url`` answers 2xx."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).is_success
        except httpx.HTTPError:
            return False

    return check


@dataclass
class Service:
    """One child process of the local stack."""

    name: str
    argv: list[str]
    ready: Callable[[], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.name}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_environment(self.env),
            start_new_session=True,
        )

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

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@dataclass
class Supervisor:
    log_dir: Path
    services: list[Service] = field(default_factory=list)

    def start(self, service: Service) -> Service:
        self.services.append(service)
        service.start(self.log_dir)
        service.wait_ready()
        return service

    def start_together(self, services: list[Service]) -> None:
        """Starts ``services`` at once (they do not depend on each other), then waits for each."""
        for service in services:
            self.services.append(service)
            service.start(self.log_dir)
        for service in services:
            service.wait_ready()

    def watch(self, should_stop: Callable[[], bool]) -> Service | None:
        """Blocks until ``should_stop()`` or a service dies; returns the dead one, if any."""
        while not should_stop():
            for service in self.services:
                if not service.alive():
                    return service
            time.sleep(0.2)
        return None

    def stop_all(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()
