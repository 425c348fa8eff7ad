"""Capability documents at the oracle: checked against the attestation that names them, then
forwarded to the inventory API once the chain holds their hash.

An attestation's ``capabilities`` word is the keccak256 of the host's document in RFC 8785 bytes
(:mod:`depin.capabilities`). The oracle refuses an attestation whose request carries no document
or another one (``capabilities_hash_mismatch``), and one whose document contradicts what the
oracle verifies (``capabilities_contradiction``): the attested GPU must be listed, with the
attested model and memory, and no GPU it lists may be one the chain attests for another provider
(a host's GPU count is its own). A zero word names no document and needs none.

With ``DEPIN_ORACLE_INVENTORY_URL`` set, each document the oracle approved an attestation for is
``PUT`` to ``<url>/v1/capabilities/<hash>``. The API takes it only once the chain attested the
hash, which happens after the batch lands; until then it answers ``409
capabilities_not_attested`` and the document is offered again, for a while.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

import httpx

from depin.attestation import NO_CAPABILITIES, GpuAttestation, model_text
from depin.capabilities import CapabilityDocument, document_hash
from depin.crypto import to_hex
from depin.errors import facts
from depin.wire import RefusalCode
from oracle.errors import Refusal

log = logging.getLogger(__name__)

__all__ = [
    "CapabilitiesContradiction",
    "CapabilitiesHashMismatch",
    "InventoryForwarder",
    "check_capabilities",
]


class CapabilitiesHashMismatch(Refusal):
    """The request carries no capability document, or not the one the attestation names."""

    code = RefusalCode.CAPABILITIES_HASH_MISMATCH

    def __init__(self, attested: bytes, carried: bytes | None) -> None:
        self.attested = attested
        self.carried = carried
        if attested == NO_CAPABILITIES:
            detail = "the attestation names no capability document, the request carries one"
        elif carried is None:
            detail = f"the attestation names capability document {to_hex(attested)}; none came"
        else:
            detail = (
                f"the attestation names capability document {to_hex(attested)}; the one that "
                f"came hashes to {to_hex(carried)}"
            )
        super().__init__(detail)


@facts
class CapabilitiesContradiction(Refusal):
    """The capability document says otherwise than the attestation it came with."""

    code = RefusalCode.CAPABILITIES_CONTRADICTION
    template = "the capability document says {field} is {documented}, the attestation {attested}"
    field: str
    documented: object
    attested: object


def check_capabilities(
    message: GpuAttestation,
    document: CapabilityDocument | None,
    gpu_provider: Callable[[bytes], str | None] | None = None,
) -> None:
    """Refuses a document that is not the attested one or that contradicts the attestation, or
    (with ``gpu_provider``: the provider of a GPU's current attestation on the chain) one that
    lists a GPU the chain attests for another provider."""
    if message.capabilities == NO_CAPABILITIES:
        if document is not None:
            raise CapabilitiesHashMismatch(NO_CAPABILITIES, document_hash(document))
        return
    if document is None:
        raise CapabilitiesHashMismatch(message.capabilities, None)
    carried = document_hash(document)
    if carried != message.capabilities:
        raise CapabilitiesHashMismatch(message.capabilities, carried)
    gpu = document.gpu(message.gpu_key)
    if gpu is None:
        raise CapabilitiesContradiction("the GPU list", "without this GPU", to_hex(message.gpu_key))
    if gpu.model != model_text(message.model):
        raise CapabilitiesContradiction("model", gpu.model, model_text(message.model))
    if gpu.memory_bytes != message.memory_bytes:
        raise CapabilitiesContradiction("memoryBytes", gpu.memory_bytes, message.memory_bytes)
    if gpu_provider is not None:
        # the attested GPU itself may move between providers (the contract lets it); the others
        # the document counts must not be another provider's
        for listed in document.gpus:
            if listed is gpu:
                continue
            owner = gpu_provider(bytes.fromhex(listed.gpu_key[2:]))
            if owner is not None and owner != message.provider:
                raise CapabilitiesContradiction(
                    f"the provider of GPU {listed.gpu_key}", message.provider, owner
                )


Outcome = Literal["taken", "refused", "later"]


class InventoryForwarder:
    """Offers approved documents to the inventory API until it takes them (see the module).

    Args:
        url: the API's base URL.
        patience_s: how long a document is offered before it is given up.
        retry_s: the pause between offers of a document the API does not take yet.
        http: the client (its base URL is ``url``); one is made by default.
    """

    def __init__(
        self,
        url: str,
        *,
        patience_s: float = 900.0,
        retry_s: float = 2.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self.patience_s = patience_s
        self.retry_s = retry_s
        self.clock = clock
        self._http = http or httpx.Client(timeout=10.0)
        self._pending: dict[bytes, tuple[CapabilityDocument, float]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: hashes the API took (bounded: the latest few thousand)
        self.delivered: dict[bytes, None] = {}

    def offer(self, document: CapabilityDocument) -> None:
        """Queues a document (once per hash) and wakes the sender."""
        key = document_hash(document)
        with self._lock:
            if key in self.delivered or key in self._pending:
                return
            self._pending[key] = (document, self.clock() + self.patience_s)
        self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def send_once(self) -> None:
        """Offers every pending document once."""
        with self._lock:
            items = list(self._pending.items())
        for key, (document, deadline) in items:
            outcome = self._send(key, document)
            expired = outcome == "later" and self.clock() > deadline
            with self._lock:
                if outcome != "later" or expired:
                    self._pending.pop(key, None)
                if outcome == "taken":
                    self.delivered[key] = None
                    while len(self.delivered) > 4096:
                        self.delivered.pop(next(iter(self.delivered)))
            if expired:
                log.warning("capability document %s not taken by %s", to_hex(key), self.url)

    def _send(
        self, key: bytes, document: CapabilityDocument
    ) -> Literal["taken", "refused", "later"]:
        """Offers one document: the API took it, refused it for good, or wants it later."""
        try:
            response = self._http.put(
                f"{self.url}/v1/capabilities/{to_hex(key)}", json=document.as_json()
            )
        except httpx.HTTPError as exc:
            log.info("capability document %s: %s", to_hex(key), exc)
            return "later"
        if response.is_success:
            return "taken"
        if response.status_code == 409 or response.status_code >= 500:
            return "later"  # not attested on-chain yet, or the API is down
        log.warning(
            "the inventory refused capability document %s: %s",
            to_hex(key),
            response.text[:300],
        )
        return "refused"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="capabilities", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.send_once()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._http.close()
