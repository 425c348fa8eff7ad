"""One oracle node: its key, chain views (config, authorization cached per block), the
pipeline, the durable store and the transmitter that turns co-signed work into transactions."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD

from depin import deployments
from depin.attestation import GpuAttestation, bitmap_from_indices, sort_signatures
from depin.attestation_client import AttestationClient, OracleConfig
from depin.chain import connect, replacement, translate_error
from depin.proof import CPU_PARAMS, PRODUCTION_PARAMS
from depin.registry import RegistryClient
from depin.simulation import simulated_allowed
from depin.wire import AttestationBody, Bundle, CoSignature
from oracle.errors import Refusal
from oracle.pipeline import Limits, Pipeline
from oracle.proof import SqliteChallengeStore
from oracle.proofs import ProofService
from oracle.settings import OracleSettings
from oracle.store import Store

log = logging.getLogger("depin.oracle")

CRASH_ENV = "DEPIN_ORACLE_CRASH_AFTER_SIGNING"
"""Test hook: SIGKILL the process after a transaction is signed and persisted, before sending."""


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
        oracle_address = deployments.load(folder, chain_id, "AttestationOracle").address
        self.client = AttestationClient(self.w3, oracle_address)
        self.registry = RegistryClient(self.w3, self.client.registry_address())
        self.chain = ChainView(self.w3, self.client, self.registry, settings.authorization_ttl_s)
        self.store = Store(settings.database)
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

    def position(self) -> int:
        oracles = self.chain.config().oracles
        return (
            oracles.index(self.account.address) if self.account.address in oracles else len(oracles)
        )


class Transmitter:
    """Batches queued bundles into ``submit`` and heartbeats into ``recordLiveness``."""

    def __init__(self, node: OracleNode) -> None:
        self.node = node
        self.w3 = node.w3
        self.store = node.store
        self.settings = node.settings
        self.http = httpx.Client(timeout=10.0)
        self._stop = threading.Event()
        self._quiet_epoch_checked: int | None = None

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # keep transmitting; the next step retries
                log.warning("transmitter step failed: %s", exc)
            self._stop.wait(self.settings.poll_s)

    def stop(self) -> None:
        self._stop.set()

    def step(self) -> None:
        self.reconcile()
        self.maybe_submit()
        if self.settings.liveness:
            self.maybe_liveness()

    # ------------------------------------------------------------------ co-signatures

    def _cosign(self, path: str, body: dict[str, Any], own: Any) -> list[tuple[str, bytes]]:
        """This oracle's signature (``own()``, if it agrees) and the peers', up to t."""
        config = self.node.chain.config()
        collected: list[tuple[str, bytes]] = []
        try:
            collected.append((self.node.account.address, own()))
        except Refusal as exc:
            log.info("not co-signing own batch: %s", exc.detail)
        for peer in self.settings.peers:
            if len(collected) >= config.threshold:
                break
            try:
                response = self.http.post(peer.rstrip("/") + path, json=body)
            except httpx.HTTPError as exc:
                log.info("peer %s unreachable: %s", peer, exc)
                continue
            if response.status_code == 200:
                sig = CoSignature.model_validate(response.json())
                if sig.oracle in config.oracles and sig.oracle not in dict(collected):
                    collected.append((sig.oracle, sig.signature))
        return collected

    # ------------------------------------------------------------------ attestations

    def maybe_submit(self) -> None:
        pending = self.store.pending(10 * self.settings.batch_max)
        if not pending:
            return
        # Group by who approved, so each batch has t co-signers for every entry.
        groups: dict[frozenset[str], list[tuple[bytes, dict[str, Any], float]]] = {}
        for item in pending:
            approvers = frozenset(a["oracle"] for a in item[1]["approvals"])
            groups.setdefault(approvers, []).append(item)
        group = min(groups.values(), key=lambda g: g[0][2])[: self.settings.batch_max]
        if (
            len(group) < self.settings.batch_max
            and time.time() - group[0][2] < self.settings.batch_age_s
        ):
            return
        config = self.node.chain.config()
        bundles = [Bundle.model_validate(entry) for _, entry, _ in group]
        messages = [b.attestation.message() for b in bundles]
        body = {
            "configVersion": config.version,
            "entries": [b.model_dump(mode="json") for b in bundles],
        }
        sigs = self._cosign(
            "/v1/batches/cosign",
            body,
            lambda: self.node.pipeline.cosign_batch(config.version, messages),
        )
        if len(sigs) < config.threshold:
            log.info(
                "only %d of %d co-signatures for a batch; retrying later",
                len(sigs),
                config.threshold,
            )
            return
        call = self.node.client.submit_call(
            config.version, [(m, b.signature) for m, b in zip(messages, bundles, strict=True)], sigs
        )
        self._send("submit", call, [d for d, _, _ in group], None)

    # ------------------------------------------------------------------ liveness

    def maybe_liveness(self) -> None:
        chain = self.node.chain
        current = chain.epoch()
        epochs = [
            e
            for e in self.store.heartbeat_epochs()
            if e < current and self.store.liveness_state(e) is None
        ]
        # An epoch in which no heartbeat arrived is recorded too, with an empty bitmap, once any
        # GPU is attested: "offline" is then a fact on the chain, not an absence of records.
        previous = current - 1
        if (
            previous not in epochs
            and previous != self._quiet_epoch_checked
            and self.store.liveness_state(previous) is None
        ):
            self._quiet_epoch_checked = previous
            if self.node.client.gpu_count() > 0:
                epochs.append(previous)
        if not epochs:
            return
        last = self.node.client.last_liveness_epoch()
        for epoch in epochs:
            if epoch <= last:
                self.store.set_liveness_state(epoch, "superseded")
                continue
            # The oracle at position epoch % n goes first; the others wait their turn.
            n = max(len(chain.config().oracles), 1)
            turn = (self.node.position() - epoch) % n
            if time.time() < (epoch + 1) * chain.epoch_length + turn * 2 * self.settings.poll_s:
                return
            seen = sorted(self.store.seen(epoch))
            bitmap = bitmap_from_indices(seen, max(seen) + 1) if seen else b""
            config = chain.config()
            body = {"configVersion": config.version, "epoch": epoch, "bitmap": "0x" + bitmap.hex()}
            sigs = self._cosign(
                "/v1/liveness/cosign",
                body,
                lambda: self.node.pipeline.cosign_liveness(config.version, epoch, bitmap),  # noqa: B023
            )
            if len(sigs) < config.threshold:
                return
            call = self.node.client.liveness_call(config.version, epoch, bitmap, sigs)
            self._send("liveness", call, [], epoch)
            return

    # ------------------------------------------------------------------ transactions

    def _next_nonce(self) -> int:
        chain = int(self.w3.eth.get_transaction_count(self.node.account.address, "pending"))
        rows = self.store.query("SELECT MAX(nonce) FROM txs WHERE state = 'sent'")
        local = rows[0][0]
        return max(chain, int(local) + 1) if local is not None else chain

    def _send(self, kind: str, call: Any, digests: list[bytes], epoch: int | None) -> None:
        account = self.node.account
        try:
            gas = int(call.estimate_gas({"from": account.address}) * 1.2) + 50_000
        except Exception as exc:
            error = translate_error(call.contract_abi, exc)
            log.warning("%s would revert: %s", kind, error)
            if kind == "liveness" and epoch is not None:
                self.store.set_liveness_state(epoch, "refused")
            return
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        tip = int(self.w3.eth.max_priority_fee)
        tx = call.build_transaction(
            {
                "from": account.address,
                "nonce": self._next_nonce(),
                "gas": gas,
                "maxFeePerGas": 2 * base + tip,
                "maxPriorityFeePerGas": tip,
                "chainId": self.w3.eth.chain_id,
            }
        )
        signed = account.sign_transaction(tx)
        # Persist the signed transaction with its entries before it leaves this process.
        with self.store.transaction() as db:
            cur = db.execute(
                "INSERT INTO txs (kind, nonce, tx_hash, raw, epoch, sent_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    tx["nonce"],
                    bytes(signed.hash),
                    bytes(signed.raw_transaction),
                    epoch,
                    time.time(),
                ),
            )
            db.executemany(
                "UPDATE queue SET state = 'sent', batch_id = ? WHERE digest = ?",
                [(cur.lastrowid, d) for d in digests],
            )
            if epoch is not None:
                db.execute("INSERT OR REPLACE INTO liveness VALUES (?, 'sent')", (epoch,))
        if os.environ.get(CRASH_ENV):
            os.kill(os.getpid(), signal.SIGKILL)
        self._broadcast(bytes(signed.raw_transaction))
        log.info(
            "sent %s tx 0x%s nonce %d (%d entries)",
            kind,
            bytes(signed.hash).hex(),
            tx["nonce"],
            len(digests),
        )

    def _broadcast(self, raw: bytes) -> None:
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:
            text = str(exc).lower()
            if "already known" in text or "already imported" in text:
                return
            raise

    def reconcile(self) -> None:
        """Settles sent transactions: mined ones close their entries; lost ones are re-sent or
        their entries go back to the queue when their nonce was taken."""
        rows = self.store.query(
            "SELECT id, kind, nonce, tx_hash, raw, epoch, sent_at FROM txs WHERE state = 'sent'"
        )
        if not rows:
            return
        latest_nonce = int(self.w3.eth.get_transaction_count(self.node.account.address, "latest"))
        for tx_id, kind, nonce, tx_hash, raw, epoch, sent_at in rows:
            receipt = self._receipt(int(tx_id), bytes(tx_hash))
            if receipt is not None:
                self._settle(int(tx_id), str(kind), receipt, epoch)
                continue
            if int(nonce) < latest_nonce:
                # The nonce was used by another transaction: this one is dead; requeue.
                with self.store.transaction() as db:
                    db.execute("UPDATE txs SET state = 'dropped' WHERE id = ?", (tx_id,))
                    db.execute(
                        "UPDATE queue SET state = 'pending', batch_id = NULL WHERE batch_id = ?",
                        (tx_id,),
                    )
                    if epoch is not None:
                        db.execute("DELETE FROM liveness WHERE epoch = ?", (epoch,))
                continue
            try:
                self.w3.eth.get_transaction(HexBytes(tx_hash))
                in_pool = True
            except TransactionNotFound:
                in_pool = False
            if time.time() - float(sent_at) > self.settings.resend_after_s:
                # Unmined for too long: most likely bid below what blocks now take.
                self._replace(int(tx_id), bytes(tx_hash), bytes(raw))
            elif not in_pool:
                try:
                    self._broadcast(bytes(raw))
                except Exception as exc:
                    log.warning("re-sending 0x%s failed: %s", bytes(tx_hash).hex(), exc)
                    if "underpriced" in str(exc).lower() or "fee too low" in str(exc).lower():
                        self._requeue(int(tx_id), epoch)

    def _receipt(self, tx_id: int, tx_hash: bytes) -> Any:
        """The receipt of whichever of the transaction's versions was mined, if one was."""
        earlier = self.store.query("SELECT tx_hash FROM tx_hashes WHERE tx_id = ?", (tx_id,))
        for candidate in [tx_hash, *(bytes(h) for (h,) in earlier)]:
            try:
                return self.w3.eth.get_transaction_receipt(HexBytes(candidate))
            except TransactionNotFound:
                continue
        return None

    def _replace(self, tx_id: int, tx_hash: bytes, raw: bytes) -> None:
        """Re-signs the transaction with the same nonce and higher fees, within
        ``max_fee_gwei``; the earlier hash stays known, since either version may be mined."""
        cap = self.settings.max_fee_gwei
        tx = replacement(self.w3, raw, max_fee=int(cap * 10**9) if cap is not None else None)
        if tx is None:
            log.warning(
                "tx 0x%s unmined; replacing it would bid above the cap of %s gwei",
                tx_hash.hex(),
                cap,
            )
            return
        signed = self.node.account.sign_transaction(tx)
        with self.store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO tx_hashes VALUES (?, ?)", (tx_id, tx_hash))
            db.execute(
                "UPDATE txs SET tx_hash = ?, raw = ?, sent_at = ? WHERE id = ?",
                (bytes(signed.hash), bytes(signed.raw_transaction), time.time(), tx_id),
            )
        log.warning(
            "tx 0x%s nonce %d unmined: replaced by 0x%s at %.2f gwei",
            tx_hash.hex(),
            tx["nonce"],
            bytes(signed.hash).hex(),
            tx["maxFeePerGas"] / 1e9,
        )
        try:
            self._broadcast(bytes(signed.raw_transaction))
        except Exception as exc:  # the next reconcile tries again
            log.warning("sending the replacement 0x%s failed: %s", bytes(signed.hash).hex(), exc)

    def _requeue(self, tx_id: int, epoch: int | None) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE txs SET state = 'replaced' WHERE id = ?", (tx_id,))
            db.execute(
                "UPDATE queue SET state = 'pending', batch_id = NULL WHERE batch_id = ?", (tx_id,)
            )
            if epoch is not None:
                db.execute("DELETE FROM liveness WHERE epoch = ?", (epoch,))

    def _settle(self, tx_id: int, kind: str, receipt: Any, epoch: int | None) -> None:
        ok = int(receipt["status"]) == 1
        rejected: dict[bytes, int] = {}
        if ok and kind == "submit":
            for event in self.node.client.contract.events.AttestationRejected().process_receipt(
                receipt, errors=DISCARD
            ):
                rejected[bytes(event["args"]["gpuKey"])] = int(event["args"]["reason"])
        entries = self.store.query("SELECT digest, entry FROM queue WHERE batch_id = ?", (tx_id,))
        with self.store.transaction() as db:
            db.execute(
                "UPDATE txs SET state = ? WHERE id = ?", ("mined" if ok else "reverted", tx_id)
            )
            for digest, entry in entries:
                if not ok:
                    db.execute(
                        "UPDATE queue SET state = 'pending', batch_id = NULL WHERE digest = ?",
                        (digest,),
                    )
                    continue
                key = AttestationBody.model_validate_json(entry_json(entry)).gpu_key
                reason = rejected.get(key)
                db.execute(
                    "UPDATE queue SET state = ?, reason = ? WHERE digest = ?",
                    ("rejected" if reason else "done", reason, digest),
                )
            if epoch is not None:
                db.execute(
                    "INSERT OR REPLACE INTO liveness VALUES (?, ?)",
                    (epoch, "done" if ok else "refused"),
                )


def entry_json(entry: str) -> str:
    import json

    return json.dumps(json.loads(entry)["attestation"])


def queue_bundle(node: OracleNode, bundle: Bundle) -> tuple[bytes, bool]:
    _, digest = node.pipeline.check_bundle(bundle)
    return digest, node.store.enqueue(digest, bundle.model_dump(mode="json"))


__all__ = [
    "ChainView",
    "GpuAttestation",
    "OracleNode",
    "Transmitter",
    "queue_bundle",
    "sort_signatures",
]
