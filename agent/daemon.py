"""The agent daemon: discover, benchmark, prove, attest, hand over, heartbeat, re-attest.

One attestation round::

    discover -> benchmark -> per model: GET /v1/challenge (one proof challenge per GPU)
    -> run the provers -> POST /v1/proofs/commit -> POST /v1/proofs/reveal (certificates)
    -> sign one GpuAttestation per GPU -> POST /v1/attestations to oracles until t approve
    -> POST /v1/bundles to a transmitting oracle -> wait until the chain shows the GPUs

Between rounds the daemon heartbeats every period, re-attests before the attestations expire
and at once on a hardware change that needs it (:mod:`agent.watch`). An oracle that does not
answer is skipped for the next one; when too few answer, the round backs off (tenacity) and
logs what it is waiting for. A host without a usable GPU says so and looks again later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
from eth_account.signers.local import LocalAccount
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from agent.benchmark import BenchmarkReport, Engine, Plan, run_benchmarks
from agent.capabilities import HostProbe, build_document
from agent.discovery import GpuRecord, Inventory
from agent.errors import AgentError
from agent.health import HealthProbe, statuses
from agent.oracles import (
    OracleClient,
    OracleRefusedError,
    OraclesUnavailableError,
    OracleUnavailableError,
)
from agent.prover import NumpyProver, Prover, best_prover, run_batch
from agent.watch import ChangeEvent, SleepWaiter, Watcher
from depin import metrics
from depin.attestation import (
    ALL_WELL,
    NO_CAPABILITIES,
    GpuAttestation,
    Heartbeat,
    gpu_key,
    model_bytes,
    sign_digest,
)
from depin.attestation_client import AttestationClient
from depin.capabilities import document_hash
from depin.simulation import simulated_model
from depin.specs import PCI_VENDOR_IDS
from depin.wire import (
    Approval,
    AttestationBody,
    AttestationRequest,
    Bundle,
    CertificateBody,
    CommitRequest,
    HeartbeatRequest,
    RevealBody,
)

log = logging.getLogger("depin.agent")

_U32 = (1 << 32) - 1
SIMULATED_PLAN = Plan(
    fp32_n=256, fp16_n=128, int8_n=128, copy_bytes=8 << 20, iterations=3, warmup=1
)
"""A quick CPU benchmark for simulated GPUs (their figures are the host CPU's anyway)."""


class NoGpuError(AgentError):
    """Discovery found nothing to attest; the message gives each backend's reason."""

    code = "no_gpu"


class AttestationTimeoutError(AgentError):
    """Handed over, but the chain did not show every GPU in time."""

    code = "attestation_timeout"
    retryable = True


@dataclass
class DaemonConfig:
    """What the daemon needs beyond its key, the chain and the oracles.

    Attributes:
        provider: the provider that authorized this agent.
        simulated: attest replayed GPUs as ``sim:<model>`` and prove on the CPU.
        heartbeat_interval_s: seconds between heartbeats (default: a third of an epoch).
        validity_s: lifetime of each attestation.
        reattest_fraction: re-attest once this fraction of the validity has passed.
        rediscover_s: how soon to look again when no GPU was found or a round failed.
        watch_interval_s: longest time between two hardware inventories.
        retry_for_s: how long one round keeps waiting for enough oracles.
        verify_timeout_s: how long to wait for the chain to show handed-over GPUs.
        describe_host: send the host's capability document with each attestation, its hash in
            the attestation's ``capabilities`` (see :mod:`agent.capabilities`).
    """

    provider: str
    simulated: bool = False
    heartbeat_interval_s: float | None = None
    validity_s: int = 86400
    reattest_fraction: float = 0.8
    rediscover_s: float = 60.0
    watch_interval_s: float = 30.0
    retry_for_s: float = 120.0
    max_backoff_s: float = 10.0
    verify_timeout_s: float = 120.0
    benchmark_plan: Plan | None = None
    describe_host: bool = True


@dataclass(frozen=True)
class GpuClaim:
    """One GPU to attest."""

    record: GpuRecord
    key: bytes
    model_id: str
    vendor_id: int
    memory_bytes: int

    @property
    def label(self) -> str:
        return f"{self.record.slot} ({self.model_id})"


@dataclass
class Attested:
    """A GPU handed over to the oracles in the last round."""

    claim: GpuClaim
    message: GpuAttestation


@dataclass
class RoundResult:
    attested: list[Attested] = field(default_factory=list)
    transmitter: str = ""


def usable_gpus(inventory: Inventory, simulated: bool) -> tuple[list[GpuClaim], list[str]]:
    """The GPUs that can be attested, and a sentence for each one that cannot."""
    claims: list[GpuClaim] = []
    skipped: list[str] = []
    for gpu in inventory.gpus:
        why = None
        if gpu.status != "ok":
            why = gpu.note or f"status {gpu.status}"
        elif not gpu.uuid:
            why = "no device UUID"
        elif gpu.model_id == "unknown":
            why = f"model not in the spec table ({gpu.name or 'unnamed'})"
        elif not gpu.memory_bytes:
            why = "memory size unknown"
        if why is not None:
            skipped.append(f"{gpu.slot}: {why}")
            continue
        assert gpu.uuid is not None and gpu.memory_bytes is not None
        model_id = simulated_model(gpu.model_id) if simulated else gpu.model_id
        claims.append(
            GpuClaim(
                record=gpu,
                key=gpu_key(gpu.vendor, gpu.uuid),
                model_id=model_id,
                vendor_id=gpu.pci.vendor_id or PCI_VENDOR_IDS.get(gpu.vendor, 0),
                memory_bytes=gpu.memory_bytes,
            )
        )
    return claims, skipped


def no_gpu_message(inventory: Inventory, skipped: Sequence[str]) -> str:
    reasons = [
        f"{r.backend}: {r.reason or f'{r.devices} device(s)'}"
        for r in inventory.backends
        if r.reason or not r.devices
    ]
    reasons += skipped
    return "no GPU found: " + ("; ".join(reasons) if reasons else "no backend reported a device")


def figures(report: BenchmarkReport) -> tuple[int, int, int]:
    """(fp32 GFLOPS, fp16 GFLOPS, memory GB/s) of a benchmark report, as the protocol's uint32."""

    def value(*names: str) -> float:
        found = [r.value for n in names if (r := report.result(n)) is not None and not r.skipped]
        return max(found) if found else 0.0

    fp32 = value("matmul_fp32") * 1000
    fp16 = value("matmul_fp16", "matmul_bf16") * 1000
    bandwidth = value("memory_bandwidth")
    # 0 means "not measured" to the oracles; a slow measurement (fp16 on a CPU) rounds up to 1.
    return tuple(  # type: ignore[return-value]
        min(max(int(x), 1 if x > 0 else 0), _U32) for x in (fp32, fp16, bandwidth)
    )


class AgentDaemon:
    """The daemon for one agent key on one host."""

    def __init__(
        self,
        config: DaemonConfig,
        account: LocalAccount,
        client: AttestationClient,
        oracle_urls: Sequence[str],
        collect: Callable[[], Inventory],
        *,
        http: httpx.Client | None = None,
        benchmark: Callable[[int], BenchmarkReport] | None = None,
        make_prover: Callable[[int], Prover] | None = None,
        clock: Callable[[], float] = time.time,
        health: HealthProbe | None = None,
        host_probe: HostProbe | None = None,
    ) -> None:
        if not oracle_urls:
            raise AgentError("give at least one --oracle URL")
        self.config = config
        self.account = account
        self.client = client
        self.domain = client.domain
        self.http = http or httpx.Client(timeout=30.0)
        self.oracles = [OracleClient(url, self.http) for url in oracle_urls]
        self.collect = collect
        self._benchmark = benchmark or self._default_benchmark
        self._make_prover = make_prover
        self.clock = clock
        self.health = health
        self.host_probe = host_probe or HostProbe()
        self.stop = threading.Event()
        self._wake = threading.Event()
        self._reattest = threading.Event()
        self.current: list[Attested] = []
        self._epoch_length: int | None = None

    # ------------------------------------------------------------------ pieces

    def _default_benchmark(self, device: int) -> BenchmarkReport:
        plan = self.config.benchmark_plan or (SIMULATED_PLAN if self.config.simulated else None)
        engine: Engine = "numpy" if self.config.simulated else "auto"
        return run_benchmarks(engine, plan=plan, device=device)

    def benchmark_figures(self, claims: Sequence[GpuClaim]) -> dict[int, tuple[int, int, int]]:
        """Self-reported figures per device index, each GPU measured on its own device, one
        after the other so that no run shares a host with another. A report measured on the
        CPU (no GPU engine here, or simulated GPUs) is the host's, and serves every GPU."""
        out: dict[int, tuple[int, int, int]] = {}
        for index in sorted({claim.record.index or 0 for claim in claims}):
            report = self._benchmark(index)
            out[index] = figures(report)
            if report.engine == "numpy":
                return dict.fromkeys({c.record.index or 0 for c in claims}, out[index])
        return out

    def _prover_for(self, claims: Sequence[GpuClaim]) -> Callable[[int], Prover]:
        if self._make_prover is not None:
            return self._make_prover
        if self.config.simulated:
            return lambda _: NumpyProver()
        return lambda i: best_prover(claims[i].record.index or 0)

    def threshold(self) -> int:
        return self.client.config().threshold

    def epoch_length(self) -> int:
        if self._epoch_length is None:
            self._epoch_length = self.client.epoch_length()
        return self._epoch_length

    def _retrying(self, what: str) -> Retrying:
        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning("waiting for %s: %s; trying again in %.1f s", what, error, wait)

        return Retrying(
            retry=retry_if_exception_type(OraclesUnavailableError),
            wait=wait_exponential(multiplier=0.5, max=self.config.max_backoff_s),
            stop=stop_after_delay(self.config.retry_for_s),
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise AgentError("stopped")

    # ------------------------------------------------------------------ one round

    def discover(self) -> list[GpuClaim]:
        inventory = self.collect()
        claims, skipped = usable_gpus(inventory, self.config.simulated)
        for line in skipped:
            log.info("not attesting %s", line)
        if not claims:
            raise NoGpuError(no_gpu_message(inventory, skipped))
        return claims

    def prove(self, claims: Sequence[GpuClaim]) -> list[CertificateBody]:
        """Proof certificates for GPUs of one model, from the first oracle that answers."""
        unavailable: list[str] = []
        for oracle in self.oracles:
            try:
                return self._prove_at(oracle, claims)
            except OracleUnavailableError as exc:
                log.info("%s", exc)
                unavailable.append(oracle.url)
        raise OraclesUnavailableError(
            f"no oracle answered the proof-of-compute challenge ({', '.join(unavailable)})"
        )

    def _prove_at(self, oracle: OracleClient, claims: Sequence[GpuClaim]) -> list[CertificateBody]:
        model = claims[0].model_id
        issued = oracle.challenge(
            self.config.provider, self.account.address, model, [c.key for c in claims]
        )
        batch = issued.batch
        log.info(
            "proving %d x %s for oracle %s (deadline %.2f s)",
            len(claims),
            model,
            oracle.url,
            batch.challenges[0].deadline_s,
        )
        runs = run_batch(batch, self._prover_for(claims))
        commit = CommitRequest(batch_id=batch.batch_id, commitments=[r.commitment for r in runs])
        requests = oracle.commit(commit).requests
        by_id = {r.challenge.challenge_id: r for r in runs}
        responses = [by_id[request.challenge_id].reveal(request) for request in requests]
        verdict = oracle.reveal(RevealBody(batch_id=batch.batch_id, responses=responses))
        by_key = {c.gpu_key: c for c in verdict.certificates}
        certificates = [by_key[c.key] for c in claims]
        tops = [r.attested_tops for r in verdict.results]
        log.info(
            "proof accepted by %s: %s TOPS int8 proven",
            oracle.url,
            ", ".join(f"{t:.3g}" for t in tops),
        )
        return certificates

    def sign(
        self,
        claim: GpuClaim,
        certificate: CertificateBody,
        bench: tuple[int, int, int],
        capabilities: bytes = NO_CAPABILITIES,
    ) -> tuple[GpuAttestation, bytes]:
        now = int(self.clock())
        message = GpuAttestation(
            provider=self.config.provider,
            agent=self.account.address,
            gpu_key=claim.key,
            vendor_id=claim.vendor_id,
            model=model_bytes(claim.model_id),
            memory_bytes=claim.memory_bytes,
            fp32_gflops=bench[0],
            fp16_gflops=bench[1],
            memory_bandwidth_gbps=bench[2],
            proven_int8_gops=certificate.proven_int8_gops,
            challenge=certificate.challenge,
            measured_at=now,
            expires_at=now + self.config.validity_s,
            capabilities=capabilities,
        )
        return message, sign_digest(self.account, message.digest(self.domain))

    def approvals(
        self, requests: dict[bytes, AttestationRequest], threshold: int
    ) -> dict[bytes, list[Approval]]:
        """Post each attestation to oracles until ``threshold`` approved it."""
        approved: dict[bytes, list[Approval]] = {key: [] for key in requests}
        unavailable: list[str] = []
        for oracle in self.oracles:
            missing = [k for k in requests if len(approved[k]) < threshold]
            if not missing:
                break
            try:
                for key in missing:
                    approved[key].append(oracle.attest(requests[key]))
            except OracleUnavailableError as exc:
                log.info("%s", exc)
                unavailable.append(oracle.url)
        short = [k for k in requests if len(approved[k]) < threshold]
        if short:
            have = min(len(approved[k]) for k in short)
            raise OraclesUnavailableError(
                f"{len(short)} GPU(s) have {have} of {threshold} oracle approvals "
                f"(unavailable: {', '.join(unavailable) or 'none'})"
            )
        return approved

    def hand_over(self, bundles: list[Bundle]) -> str:
        """Give the bundles to the first transmitting oracle that approved them and answers."""
        approvers = {a.oracle for b in bundles for a in b.approvals}
        ordered = sorted(
            self.oracles,
            key=lambda o: (not o.transmits(), o.address() not in approvers),
        )
        for oracle in ordered:
            try:
                for bundle in bundles:
                    oracle.bundle(bundle)
                return oracle.url
            except OracleUnavailableError as exc:
                log.info("%s", exc)
        raise OraclesUnavailableError("no transmitting oracle took the approved attestations")

    def attest_round(self) -> RoundResult:
        """Discover, benchmark, prove, sign and hand over every usable GPU."""
        claims = self.discover()
        log.info("attesting %d GPU(s): %s", len(claims), ", ".join(c.label for c in claims))
        bench = self.benchmark_figures(claims)
        document = (
            build_document(claims, self.host_probe.host()) if self.config.describe_host else None
        )
        capabilities = document_hash(document) if document is not None else NO_CAPABILITIES
        groups: dict[str, list[GpuClaim]] = {}
        for claim in claims:
            groups.setdefault(claim.model_id, []).append(claim)
        signed: dict[bytes, tuple[GpuClaim, GpuAttestation, AttestationRequest]] = {}
        for group in groups.values():
            certificates = self._retrying("an oracle to issue a proof challenge")(self.prove, group)
            for claim, certificate in zip(group, certificates, strict=True):
                message, signature = self.sign(
                    claim, certificate, bench[claim.record.index or 0], capabilities
                )
                request = AttestationRequest(
                    attestation=AttestationBody.of(message),
                    signature=signature,
                    proof=certificate,
                    capabilities=document,
                )
                signed[claim.key] = (claim, message, request)
        threshold = self.threshold()
        requests = {key: body for key, (_, _, body) in signed.items()}
        approvals = self._retrying(f"{threshold} oracle approvals")(
            self.approvals, requests, threshold
        )
        bundles = [
            Bundle(
                attestation=request.attestation,
                signature=request.signature,
                approvals=approvals[key][:threshold],
            )
            for key, request in requests.items()
        ]
        transmitter = self._retrying("a transmitting oracle")(self.hand_over, bundles)
        log.info("handed %d approved attestation(s) to %s", len(bundles), transmitter)
        attested = [Attested(claim, message) for claim, message, _ in signed.values()]
        return RoundResult(attested, transmitter)

    def wait_on_chain(self, result: RoundResult) -> None:
        """Block until the chain shows every handed-over attestation (or time out)."""
        deadline = time.monotonic() + self.config.verify_timeout_s
        pending = {a.claim.key: a for a in result.attested}
        announced = 0.0
        while pending:
            for key in list(pending):
                state = self.client.gpu(key)
                if state.measured_at >= pending[key].message.measured_at and state.expires_at:
                    pending.pop(key)
            if not pending:
                break
            now = time.monotonic()
            if now > deadline:
                raise AttestationTimeoutError(
                    f"{len(pending)} GPU(s) not on-chain {self.config.verify_timeout_s:.0f} s "
                    f"after the hand-over to {result.transmitter}"
                )
            if now - announced > 5:
                log.info(
                    "waiting for %d GPU(s) to be verified on-chain (transmitter %s)",
                    len(pending),
                    result.transmitter,
                )
                announced = now
            if self.stop.wait(0.1):
                raise AgentError("stopped")
        log.info("%d GPU(s) verified on-chain", len(result.attested))

    def attest_once(self) -> RoundResult:
        result = self.attest_round()
        self.wait_on_chain(result)
        self.current = result.attested
        return result

    # ------------------------------------------------------------------ heartbeats

    def heartbeat(self) -> int:
        """Tell every oracle which attested GPUs are up this epoch; returns how many took it."""
        keys = tuple(a.claim.key for a in self.current)
        if not keys:
            return 0
        epoch = int(self.clock()) // self.epoch_length()
        uuids = [a.claim.record.uuid or "" for a in self.current]
        readings = statuses(self.health, uuids)
        status = bytes(readings[u].status for u in uuids)
        for uuid in uuids:
            if readings[uuid].reasons and readings[uuid].status != ALL_WELL:
                log.info("GPU %s: %s", uuid, ", ".join(readings[uuid].reasons))
        message = Heartbeat(self.config.provider, self.account.address, keys, epoch, status)
        request = HeartbeatRequest(
            provider=message.provider,
            agent=message.agent,
            gpu_keys=list(keys),
            epoch=epoch,
            status=status,
            signature=sign_digest(self.account, message.digest(self.domain)),
            reasons=[",".join(readings[u].reasons)[:200] for u in uuids],
        )
        accepted = 0
        for oracle in self.oracles:
            try:
                oracle.heartbeat(request, timeout=5.0)
                accepted += 1
                metrics.AGENT_HEARTBEATS.labels("accepted").inc()
            except OracleUnavailableError as exc:
                metrics.AGENT_HEARTBEATS.labels("unreachable").inc()
                log.info("heartbeat: %s", exc)
            except OracleRefusedError as exc:
                metrics.AGENT_HEARTBEATS.labels("refused").inc()
                log.warning("heartbeat refused: %s", exc)
        if accepted < self.threshold():
            log.warning(
                "heartbeat for epoch %d reached %d oracle(s); %d needed for liveness",
                epoch,
                accepted,
                self.threshold(),
            )
        return accepted

    # ------------------------------------------------------------------ the loop

    def on_change(self, event: ChangeEvent) -> None:
        if event.needs_reattestation:
            log.info("hardware change (%s): %s; re-attesting", event.kind, event.detail)
            self._reattest.set()
            self._wake.set()

    def watch(self) -> threading.Thread:
        waiter = SleepWaiter(self.stop) if self.config.simulated else None
        watcher = Watcher(
            self.collect, interval_s=self.config.watch_interval_s, waiter=waiter, stop=self.stop
        )
        watcher.subscribe(self.on_change)
        thread = threading.Thread(target=watcher.run, name="watch", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        """Attest, heartbeat and re-attest until :attr:`stop` is set."""
        self.watch()
        next_attest = 0.0
        next_beat = 0.0
        failures = 0
        while not self.stop.is_set():
            now = time.monotonic()
            if self._reattest.is_set() or now >= next_attest:
                self._reattest.clear()
                try:
                    self.attest_once()
                    metrics.AGENT_ATTESTATIONS.labels("attested").inc()
                    failures = 0
                    next_attest = time.monotonic() + self._reattest_after()
                    next_beat = 0.0
                except NoGpuError as exc:
                    log.warning("%s; looking again in %.0f s", exc, self.config.rediscover_s)
                    next_attest = time.monotonic() + self.config.rediscover_s
                except AgentError as exc:
                    if self.stop.is_set():
                        break
                    metrics.AGENT_ATTESTATIONS.labels("failed").inc()
                    failures += 1
                    wait = min(self.config.rediscover_s, 2.0**failures)
                    log.warning("attestation round failed: %s; next try in %.0f s", exc, wait)
                    next_attest = time.monotonic() + wait
            if self.current and time.monotonic() >= next_beat:
                try:
                    self.heartbeat()
                except Exception as exc:  # the chain read may fail; the next beat retries
                    log.warning("heartbeat failed: %s", exc)
                next_beat = time.monotonic() + self._heartbeat_interval()
            wake_at = min(next_attest, next_beat if self.current else next_attest)
            self._wake.wait(max(0.05, wake_at - time.monotonic()))
            self._wake.clear()

    def _reattest_after(self) -> float:
        if not self.current:
            return self.config.rediscover_s
        expires = min(a.message.expires_at for a in self.current)
        measured = max(a.message.measured_at for a in self.current)
        return max(1.0, (expires - measured) * self.config.reattest_fraction)

    def _heartbeat_interval(self) -> float:
        if self.config.heartbeat_interval_s is not None:
            return self.config.heartbeat_interval_s
        return max(1.0, self.epoch_length() / 3)

    def close(self) -> None:
        self.stop.set()
        self._wake.set()
