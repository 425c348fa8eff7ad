"""The transmitter: batches queued bundles into ``submit`` and heartbeats into
``recordLiveness``, gathers the co-signatures, and hands each call to the node's
:class:`depin.txsender.TxSender`, which signs, stores, sends and settles it.

A batch's entries are marked with the batch's ref before its transaction is stored; a process
killed in between leaves marked entries with no transaction, which the next pass puts back in
the queue. When a transaction settles, the entries it carried are closed (or queued again) and
the liveness epoch it recorded is marked."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
from web3.logs import DISCARD

from depin import metrics
from depin.attestation import Liveness
from depin.txsender import EstimateError, SqliteLedger, TxRecord, TxSender, TxState
from depin.wire import (
    AttestationBody,
    Bundle,
    CoSignature,
    EvidenceRequest,
    EvidenceResponse,
    LivenessCosignRequest,
    LivenessView,
)
from oracle.errors import Refusal
from oracle.heartbeats import Accepted
from oracle.store import LivenessState

if TYPE_CHECKING:
    from oracle.node import OracleNode

log = logging.getLogger("depin.oracle")

CRASH_ENV = "DEPIN_ORACLE_CRASH_AFTER_SIGNING"
"""Test hook: SIGKILL the process after a transaction is signed and persisted, before sending."""

SUBMIT = "submit"
LIVENESS = "liveness"


def _crash_if_asked(record: TxRecord) -> None:
    if os.environ.get(CRASH_ENV):
        os.kill(os.getpid(), signal.SIGKILL)


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
        cap = self.settings.max_fee_gwei
        self.ledger = metrics.CountingLedger(SqliteLedger(self.settings.database))
        self.sender = TxSender(
            node.w3,
            node.account,
            self.ledger,
            resend_after_s=self.settings.resend_after_s,
            max_fee=int(cap * 10**9) if cap is not None else None,
            on_settled=self._settled,
            after_persist=_crash_if_asked,
        )
        _watch(self)

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

    def reconcile(self) -> None:
        """Puts back what a crash left marked but unsent, then settles sent transactions."""
        for batch in self.store.sent_batches():
            if not self._in_flight(SUBMIT, batch):
                self.store.requeue(batch)
        for epoch in self.store.liveness_epochs(LivenessState.SENT):
            if not self._in_flight(LIVENESS, str(epoch)):
                self.store.set_liveness_state(epoch, None)
        self.sender.resend_after_s = self.settings.resend_after_s  # settings may be tuned live
        self.sender.reconcile()

    def _in_flight(self, kind: str, ref: str) -> bool:
        return any(r.state is TxState.SENT for r in self.ledger.find(kind, ref))

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
            answer = self._ask(peer, path, body)
            if answer is not None:
                sig = CoSignature.model_validate(answer)
                if sig.oracle in config.oracles and sig.oracle not in dict(collected):
                    collected.append((sig.oracle, sig.signature))
        return collected

    def _ask(self, peer: str, path: str, body: dict[str, Any], refused: str = "") -> Any:
        """``peer``'s JSON answer to ``body`` at ``path``; ``None`` when it cannot be reached
        or answers otherwise than 200 (logged with ``refused``, if given)."""
        try:
            response = self.http.post(peer.rstrip("/") + path, json=body)
        except httpx.HTTPError as exc:
            log.info("peer %s unreachable: %s", peer, exc)
            return None
        if response.status_code != 200:
            if refused:
                log.info("peer %s %s: %s", peer, refused, response.text[:300])
            return None
        return response.json()

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
        batch = "batch-" + secrets.token_hex(8)
        self.store.mark_sent([d for d, _, _ in group], batch)
        try:
            record = self.sender.send(call, kind=SUBMIT, ref=batch)
        except EstimateError as exc:
            self.store.requeue(batch)
            log.warning("submit would revert: %s", exc.cause)
            return
        except BaseException:
            self.store.requeue(batch)
            raise
        log.info("submit tx 0x%s carries %d entries", record.tx_hash.hex(), len(group))

    # ------------------------------------------------------------------ liveness

    def maybe_liveness(self) -> None:
        """Records each closed epoch in order, when it is this oracle's turn. An epoch without a
        quorum is tried again while the next one runs, then given up (missed): it never blocks
        a later epoch."""
        chain = self.node.chain
        current = chain.epoch()
        epochs = {
            e
            for e in self.node.book.epochs()
            if e < current and self.store.liveness_state(e) is None
        }
        # An epoch in which no heartbeat arrived is recorded too, with empty bitmaps, once any
        # GPU is attested: "offline" is then a fact on the chain, not an absence of records.
        previous = current - 1
        if (
            previous not in epochs
            and previous != self._quiet_epoch_checked
            and self.store.liveness_state(previous) is None
        ):
            self._quiet_epoch_checked = previous
            if self.node.facts.gpu_count() > 0:
                epochs.add(previous)
        if not epochs:
            return
        last = self.node.client.last_liveness_epoch()
        for epoch in sorted(epochs):
            if epoch <= last:
                self.store.set_liveness_state(epoch, LivenessState.SUPERSEDED)
                continue
            if epoch < current - 1:
                log.warning("no quorum for epoch %d in time: it stays a gap", epoch)
                metrics.LIVENESS_RECORDS.labels("missed").inc()
                self.store.set_liveness_state(epoch, LivenessState.MISSED)
                continue
            # The oracle at position epoch % n goes first; the others wait their turn.
            n = max(len(chain.config().oracles), 1)
            turn = (self.node.position() - epoch) % n
            if time.time() < (epoch + 1) * chain.epoch_length + turn * 2 * self.settings.poll_s:
                return
            self._record_liveness(epoch)
            return

    def _pull(self, epoch: int) -> dict[str, Liveness]:
        """Asks each peer for its view of ``epoch`` and the heartbeats this oracle lacks; keeps
        those that check out. Returns each answering peer's view."""
        own = self.node.book.view(epoch).liveness()
        body = EvidenceRequest(epoch=epoch, view=LivenessView.of(own)).model_dump(mode="json")
        views: dict[str, Liveness] = {}
        evidence: list[Accepted] = []
        for peer in self.settings.peers:
            reply = self._ask(peer, "/v1/liveness/evidence", body, "gave no evidence")
            if reply is None:
                continue
            answer = EvidenceResponse.model_validate(reply)
            views[peer] = answer.view.liveness()
            evidence += self.node.liveness.verified(answer.heartbeats, epoch)
        if evidence:
            self.node.book.add_all(evidence)
        return views

    def _record_liveness(self, epoch: int) -> None:
        """Pull, merge, co-sign, transmit (``docs/liveness.md``)."""
        chain_length = self.node.chain.epoch_length
        views = self._pull(epoch)
        view = self.node.book.view(epoch)
        liveness = view.liveness()
        config = self.node.chain.config()
        collected: list[tuple[str, bytes]] = [
            (self.node.account.address, self.node.liveness.sign(config.version, epoch, liveness))
        ]
        for peer in self.settings.peers:
            if len(collected) >= config.threshold:
                break
            evidence = self.node.liveness.behind(epoch, view, views.get(peer))
            body = LivenessCosignRequest(
                config_version=config.version,
                epoch=epoch,
                liveness=LivenessView.of(liveness),
                evidence=evidence,
            ).model_dump(mode="json")
            reply = self._ask(peer, "/v1/liveness/cosign", body, f"refused epoch {epoch}")
            if reply is None:
                continue
            sig = CoSignature.model_validate(reply)
            if sig.oracle in config.oracles and sig.oracle not in dict(collected):
                collected.append((sig.oracle, sig.signature))
        if len(collected) < config.threshold:
            log.info(
                "only %d of %d co-signatures for epoch %d; retrying",
                len(collected),
                config.threshold,
                epoch,
            )
            return
        call = self.node.client.liveness_call(config.version, epoch, liveness, collected)
        self.store.set_liveness_state(epoch, LivenessState.SENT)
        try:
            record = self.sender.send(call, kind=LIVENESS, ref=str(epoch))
        except EstimateError as exc:
            self.store.set_liveness_state(epoch, None)
            chain_epoch = int(self.w3.eth.get_block("latest")["timestamp"]) // chain_length
            if chain_epoch <= epoch:  # the chain's clock is behind this host's: try again
                log.info(
                    "epoch %d is not over on the chain yet (its clock: %d)", epoch, chain_epoch
                )
                return
            log.warning("liveness would revert: %s", exc.cause)
            self.store.set_liveness_state(epoch, LivenessState.REFUSED)
            return
        except BaseException:
            self.store.set_liveness_state(epoch, None)
            raise
        metrics.LIVENESS_RECORDS.labels("sent").inc()
        log.info(
            "liveness tx 0x%s records epoch %d: %d GPU(s) online",
            record.tx_hash.hex(),
            epoch,
            len(view.said),
        )

    # ------------------------------------------------------------------ settlement

    def _settled(self, record: TxRecord, state: TxState, receipt: Any) -> None:
        """Closes what a settled transaction carried; run again after a crash, it changes
        nothing more."""
        if record.kind == LIVENESS:
            epoch = int(record.ref)
            if state is TxState.MINED:
                self.store.set_liveness_state(epoch, LivenessState.DONE)
            elif state is TxState.REVERTED:
                self.store.set_liveness_state(epoch, LivenessState.REFUSED)
            elif self.store.liveness_state(epoch) is LivenessState.SENT:
                self.store.set_liveness_state(epoch, None)  # to be sent again
            return
        if state is not TxState.MINED:
            self.store.requeue(record.ref)
            return
        rejected: dict[bytes, int] = {}
        for event in self.node.client.contract.events.AttestationRejected().process_receipt(
            receipt, errors=DISCARD
        ):
            rejected[bytes(event["args"]["gpuKey"])] = int(event["args"]["reason"])
        self.store.finish(
            [
                (digest, rejected.get(_gpu_key(entry)))
                for digest, entry in self.store.batch_entries(record.ref)
            ]
        )


def _watch(transmitter: Transmitter) -> None:
    """Gauges read when scraped: the transmit queue, the heartbeat book's writes not yet
    committed, and this oracle's transactions not yet settled."""
    metrics.probe(
        "depin_oracle_queue",
        "Co-signed attestations waiting for a submit transaction (pending) or in one (sent).",
        transmitter,
        lambda t: {
            (state,): float(count)
            for state, count in t.store.queue_states().items()
            if state in ("pending", "sent")
        },
        labels=("state",),
    )
    metrics.probe(
        "depin_oracle_heartbeat_pending_writes",
        "Heartbeat requests accepted and waiting for the heartbeat book's next commit.",
        transmitter.node.book,
        lambda book: float(len(getattr(book, "_pending", ()))),
    )
    metrics.watch_ledger(
        transmitter, lambda t: metrics.pending_transactions(t.ledger, t.sender.address)
    )


def _gpu_key(entry: dict[str, Any]) -> bytes:
    return AttestationBody.model_validate_json(json.dumps(entry["attestation"])).gpu_key
