"""One oracle node: its key, chain views (config, authorization cached per block), the chain
facts followed from events (:mod:`oracle.facts`) with the heartbeats they check
(:mod:`oracle.heartbeats`, :mod:`oracle.liveness`), the pipeline, the durable store and the
transmitter (:mod:`oracle.transmitter`) that turns co-signed work into transactions."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin import deployments
from depin.attestation import GpuAttestation, sort_signatures
from depin.attestation_client import AttestationClient, OracleConfig
from depin.chain import connect
from depin.crypto import DigestSigner
from depin.proof import CPU_PARAMS, PRODUCTION_PARAMS
from depin.registry import RegistryClient
from depin.simulation import simulated_allowed
from depin.wire import Bundle
from oracle.capabilities import InventoryForwarder
from oracle.facts import ChainFacts
from oracle.heartbeats import HeartbeatBook
from oracle.liveness import LivenessService
from oracle.pipeline import Limits, Pipeline
from oracle.proof import SqliteChallengeStore
from oracle.proof_service import ProofService
from oracle.settings import OracleSettings
from oracle.store import Store
from oracle.transmitter import CRASH_ENV, Transmitter

log = logging.getLogger("depin.oracle")


class ChainView:
    """Reads the oracle needs, cached: the config for a few seconds, authorization per block."""

    def __init__(
        self, w3: Web3, client: AttestationClient, registry: RegistryClient, ttl: float
    ) -> None:
        self.w3 = w3
        self.client = client
        self.registry = registry
        self.ttl = ttl
        self._config: tuple[float, OracleConfig] | None = None
        self._block: tuple[float, int] = (0.0, -1)
        self._auth: dict[tuple[str, str], tuple[int, bool]] = {}
        self._gpus: dict[bytes, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.epoch_length = client.epoch_length()

    def config(self) -> OracleConfig:
        now = time.monotonic()
        if self._config is None or now - self._config[0] > self.ttl:
            self._config = (now, self.client.config())
        return self._config[1]

    def block(self) -> int:
        now = time.monotonic()
        if now - self._block[0] > min(self.ttl, 1.0):
            self._block = (now, int(self.w3.eth.block_number))
        return self._block[1]

    def authorized(self, provider: str, agent: str) -> bool:
        block = self.block()
        cached = self._auth.get((provider, agent))
        if cached is not None and cached[0] == block:
            return cached[1]
        value = self.registry.is_authorized_agent(provider, agent)
        with self._lock:
            self._auth[(provider, agent)] = (block, value)
        return value

    def gpu(self, key: bytes) -> Any:
        now = time.monotonic()
        cached = self._gpus.get(key)
        if cached is None or now - cached[0] > self.ttl:
            cached = (now, self.client.gpu(key))
            self._gpus[key] = cached
        return cached[1]

    def epoch(self) -> int:
        return int(time.time()) // self.epoch_length


class OracleNode:
    def __init__(self, settings: OracleSettings, account: LocalAccount) -> None:
        self.settings = settings
        self.account = account
        self.w3 = connect(settings.rpc_url)
        chain_id = self.w3.eth.chain_id
        settings.check_secrets(chain_id)
        folder = settings.home / "deployments"
        recorded = deployments.load_all(folder, chain_id)
        oracle_deployment = deployments.load(folder, chain_id, "AttestationOracle")
        self.client = AttestationClient(self.w3, oracle_deployment.address)
        self.registry = RegistryClient(self.w3, self.client.registry_address())
        self.chain = ChainView(self.w3, self.client, self.registry, settings.authorization_ttl_s)
        self.store = Store(settings.database)
        # The registry was deployed first; its events (agents authorized) are read from there.
        registry_deployment = recorded.get("ProviderRegistry")
        from_block = (
            registry_deployment.block
            if registry_deployment is not None
            and registry_deployment.address.lower() == self.registry.address.lower()
            else 0
        )
        self.facts = ChainFacts(
            self.w3,
            self.registry.address,
            self.client.address,
            min(from_block, oracle_deployment.block),
            poll_s=settings.facts_poll_s,
        ).start()
        self.book = HeartbeatBook(settings.database)
        self.liveness = LivenessService(
            DigestSigner(account),
            self.client.domain,
            self.facts,
            self.book,
            self.chain.config,
            self.chain.epoch,
        )
        self.allow_simulated = simulated_allowed(settings.allow_simulated, chain_id)
        if settings.allow_simulated and not self.allow_simulated:
            log.warning(
                "DEPIN_ORACLE_ALLOW_SIMULATED is ignored on chain %d: simulated GPUs are "
                "accepted only on a dev chain",
                chain_id,
            )
        self.pipeline = Pipeline(
            account,
            self.client.domain,
            self.chain.config,
            self.chain.authorized,
            self.store,
            Limits(
                settings.challenge_ttl_s,
                settings.max_validity_s,
                settings.max_clock_skew_s,
                require_proof=settings.require_proof,
                allow_simulated=self.allow_simulated,
            ),
            gpu_provider=self.current_provider,
        )
        self.proofs = ProofService(
            account,
            self.client.domain,
            self.chain.config,
            allow_simulated=self.allow_simulated,
            params=CPU_PARAMS if settings.proof_params == "cpu" else PRODUCTION_PARAMS,
            sim_deadline_s=settings.sim_deadline_s,
            certificate_ttl_s=settings.certificate_ttl_s,
            # In the node's database, so a restart between challenge and reveal loses nothing.
            store=SqliteChallengeStore(settings.database),
        )
        self.transmitter = Transmitter(self)
        self.forwarder = (
            InventoryForwarder(settings.inventory_url) if settings.inventory_url else None
        )

    def close(self) -> None:
        """Stops following the chain and closes the heartbeat book (its last batch committed)."""
        self.facts.stop()
        self.book.close()
        if self.forwarder is not None:
            self.forwarder.close()

    def current_provider(self, key: bytes) -> str | None:
        """The provider of the GPU's current (unrevoked, unexpired) attestation, as the chain's
        events say."""
        fact = self.facts.gpu(key)
        if fact is None or fact.revoked or fact.expires_at <= self.facts.now():
            return None
        return fact.provider

    def position(self) -> int:
        oracles = self.chain.config().oracles
        return (
            oracles.index(self.account.address) if self.account.address in oracles else len(oracles)
        )


def queue_bundle(node: OracleNode, bundle: Bundle) -> tuple[bytes, bool]:
    _, digest = node.pipeline.check_bundle(bundle)
    return digest, node.store.enqueue(digest, bundle.model_dump(mode="json"))


__all__ = [
    "CRASH_ENV",
    "ChainView",
    "GpuAttestation",
    "OracleNode",
    "Transmitter",
    "queue_bundle",
    "sort_signatures",
]
