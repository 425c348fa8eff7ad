"""What the heartbeat path needs from the chain, kept in memory by following events.

:class:`ChainFacts` follows the ProviderRegistry (``AgentAuthorized``, ``AgentRevoked``,
``ProviderDeregistered``) and the AttestationOracle (``GpuAttested``, ``GpuRevoked``) from their
deployment block, in a background thread, so that a heartbeat is checked without one RPC: is the
agent authorized now, is each GPU key a current attestation of this provider. A reorg rebuilds
everything from the deployment block.

Authorization mirrors ``ProviderRegistry.isAuthorizedAgent``: the agent's expiry is after now
and the provider is active. An agent can only be authorized by an active provider, and a
deregistered provider never comes back, so "active" is "not deregistered" here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from web3 import Web3

from depin.events import ChainEvent, EventFollower, Reorg

log = logging.getLogger("depin.oracle")

REGISTRY = "ProviderRegistry"
ORACLE = "AttestationOracle"
EVENTS = ("AgentAuthorized", "AgentRevoked", "ProviderDeregistered", "GpuAttested", "GpuRevoked")


@dataclass(frozen=True)
class GpuFact:
    """One GPU as the chain's events say: its provider, liveness index and expiry."""

    provider: str
    index: int
    expires_at: int
    revoked: bool = False


class ChainFacts:
    """Agents' authorizations and GPUs' attestations, from events; read without RPC."""

    def __init__(
        self,
        w3: Web3,
        registry: str,
        oracle: str,
        from_block: int = 0,
        *,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.w3 = w3
        self.registry = Web3.to_checksum_address(registry)
        self.oracle = Web3.to_checksum_address(oracle)
        self.from_block = from_block
        self.poll_s = poll_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._polled = threading.Condition()
        self.polls = 0
        """How many polls have completed (a waiter compares it before and after)."""
        self._reset()

    def _reset(self) -> None:
        self._follower = EventFollower(
            self.w3, {self.registry: REGISTRY, self.oracle: ORACLE}, self.from_block, events=EVENTS
        )
        self._agents: dict[tuple[str, str], int] = {}
        self._deregistered: set[str] = set()
        self._gpus: dict[bytes, GpuFact] = {}

    # ------------------------------------------------------------------ answers

    def now(self) -> float:
        """The later of this host's clock and the last block's timestamp (the contracts' now)."""
        return max(self.clock(), float(self._follower.head_timestamp))

    def authorized(self, provider: str, agent: str) -> bool:
        """``ProviderRegistry.isAuthorizedAgent(provider, agent)`` as of the last block read."""
        expires = self._agents.get((provider, agent), 0)
        return expires > self.now() and provider not in self._deregistered

    def gpu(self, key: bytes) -> GpuFact | None:
        return self._gpus.get(key)

    def current_gpu(self, key: bytes, provider: str) -> GpuFact | None:
        """The GPU when it has a current (unrevoked, unexpired) attestation of ``provider``."""
        fact = self._gpus.get(key)
        if (
            fact is None
            or fact.provider != provider
            or fact.revoked
            or fact.expires_at <= self.now()
        ):
            return None
        return fact

    def gpu_count(self) -> int:
        return len(self._gpus)

    # ------------------------------------------------------------------ following

    def sync(self) -> int:
        """Reads the blocks since the last sync; returns how many events it applied. After a
        reorg the facts are rebuilt aside and swapped in whole."""
        try:
            events = self._follower.poll()
            self._apply(events, self._agents, self._deregistered, self._gpus)
        except Reorg as exc:
            log.warning("%s; rebuilding the chain facts from block %d", exc, self.from_block)
            follower = EventFollower(
                self.w3,
                {self.registry: REGISTRY, self.oracle: ORACLE},
                self.from_block,
                events=EVENTS,
            )
            agents: dict[tuple[str, str], int] = {}
            deregistered: set[str] = set()
            gpus: dict[bytes, GpuFact] = {}
            events = follower.poll()
            self._apply(events, agents, deregistered, gpus)
            self._follower, self._agents, self._deregistered, self._gpus = (
                follower, agents, deregistered, gpus
            )  # fmt: skip
        with self._polled:
            self.polls += 1
            self._polled.notify_all()
        return len(events)

    @staticmethod
    def _apply(
        events: list[ChainEvent],
        agents: dict[tuple[str, str], int],
        deregistered: set[str],
        gpus: dict[bytes, GpuFact],
    ) -> None:
        for event in events:
            args = event.args
            if event.name == "AgentAuthorized":
                agents[(args["provider"], args["agent"])] = int(args["expiresAt"])
            elif event.name == "AgentRevoked":
                agents.pop((args["provider"], args["agent"]), None)
            elif event.name == "ProviderDeregistered":
                deregistered.add(args["provider"])
            elif event.name == "GpuAttested":
                gpus[bytes(args["gpuKey"])] = GpuFact(
                    str(args["provider"]), int(args["index"]), int(args["expiresAt"])
                )
            elif event.name == "GpuRevoked":
                key = bytes(args["gpuKey"])
                fact = gpus.get(key)
                if fact is not None:
                    gpus[key] = GpuFact(fact.provider, fact.index, 0, revoked=True)

    def wait_next_poll(self, timeout: float) -> bool:
        """Blocks until a poll that starts after this call has completed (or ``timeout``)."""
        with self._polled:
            target = self.polls + 2  # the poll under way may have started before this call
            return self._polled.wait_for(lambda: self.polls >= target, timeout)

    def start(self) -> ChainFacts:
        """Reads up to the head now, then follows in a background thread."""
        if self._thread is None:
            self.sync()
            self._thread = threading.Thread(target=self._run, name="chain-facts", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.poll_s):
            try:
                self.sync()
                failing = False
            except Exception as exc:  # the node may be away; the next poll retries
                log.log(
                    logging.DEBUG if failing else logging.WARNING, "following the chain: %s", exc
                )
                failing = True

    def stop(self) -> None:
        self._stop.set()
        with self._polled:
            self._polled.notify_all()
