"""A typed client of the AttestationOracle contract on web3.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from depin import artifacts
from depin.attestation import (
    AttestationBatch,
    GpuAttestation,
    GpuRevocation,
    Liveness,
    LivenessReport,
    model_text,
    sort_signatures,
    unpack_figures,
)
from depin.chain import transact
from depin.eip712 import Domain

CONTRACT_NAME = "AttestationOracle"


@dataclass(frozen=True)
class OracleConfig:
    version: int
    oracles: tuple[str, ...]
    threshold: int


@dataclass(frozen=True)
class GpuState:
    """The contract's word for one GPU."""

    provider: str
    index: int
    measured_at: int
    expires_at: int


class AttestationClient:
    """Reads and writes the AttestationOracle; builds what agents and oracles sign."""

    def __init__(self, w3: Web3, address: str, *, abi_name: str = CONTRACT_NAME) -> None:
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=artifacts.abi(abi_name))

    # ------------------------------------------------------------------ reads

    @cached_property
    def domain(self) -> Domain:
        """The EIP-712 domain, read from the live contract (EIP-5267)."""
        return Domain.from_eip5267(self.contract.functions.eip712Domain().call())

    def config(self) -> OracleConfig:
        version, oracles, threshold = self.contract.functions.oracleConfig().call()
        return OracleConfig(int(version), tuple(str(o) for o in oracles), int(threshold))

    def config_version(self) -> int:
        return int(self.contract.functions.configVersion().call())

    def is_verified(self, gpu_key: bytes) -> bool:
        return bool(self.contract.functions.isVerified(gpu_key).call())

    def gpu(self, gpu_key: bytes) -> GpuState:
        provider, index, measured_at, expires_at = self.contract.functions.gpuRecord(gpu_key).call()
        return GpuState(str(provider), int(index), int(measured_at), int(expires_at))

    def provider_gpus(self, provider: str, from_block: int = 0) -> list[dict[str, Any]]:
        """The GPUs ``provider`` has attested, latest attestation each, read from the chain
        (``GpuAttested`` events for their facts, the contract's word for their state now)."""
        latest: dict[bytes, Any] = {}
        for log in self.contract.events.GpuAttested.get_logs(
            from_block=from_block, argument_filters={"provider": to_checksum_address(provider)}
        ):
            key = bytes(log["args"]["gpuKey"])
            if key not in latest or (log["blockNumber"], log["logIndex"]) > (
                latest[key]["blockNumber"],
                latest[key]["logIndex"],
            ):
                latest[key] = log
        gpus = []
        for key, log in latest.items():
            args = log["args"]
            state = self.gpu(key)
            gpus.append(
                {
                    "gpuKey": "0x" + key.hex(),
                    "index": int(args["index"]),
                    "agent": str(args["agent"]),
                    "model": model_text(bytes(args["model"])),
                    "memoryBytes": int(args["memoryBytes"]),
                    **unpack_figures(int(args["figures"])),
                    "measuredAt": state.measured_at,
                    "expiresAt": state.expires_at,
                    "verified": self.is_verified(key),
                }
            )
        return sorted(gpus, key=lambda g: g["index"])

    def gpu_count(self) -> int:
        return int(self.contract.functions.gpuCount().call())

    def last_liveness_epoch(self) -> int:
        return int(self.contract.functions.lastLivenessEpoch().call())

    def epoch_length(self) -> int:
        return int(self.contract.functions.EPOCH_LENGTH().call())

    def registry_address(self) -> str:
        return str(self.contract.functions.REGISTRY().call())

    # ------------------------------------------------------------------ calls

    def set_config_call(self, oracles: Sequence[str], threshold: int) -> ContractFunction:
        return self.contract.functions.setOracleConfig(
            [to_checksum_address(o) for o in oracles], threshold
        )

    def submit_call(
        self,
        config_version: int,
        entries: Sequence[tuple[GpuAttestation, bytes]],
        oracle_signatures: Sequence[tuple[str, bytes]],
    ) -> ContractFunction:
        """``submit`` with ``(attestation, agent signature)`` entries and ``(oracle, sig)``s."""
        return self.contract.functions.submit(
            config_version,
            [message.packed(signature) for message, signature in entries],
            sort_signatures(oracle_signatures),
        )

    def liveness_call(
        self,
        config_version: int,
        epoch: int,
        liveness: Liveness,
        oracle_signatures: Sequence[Any],
    ) -> ContractFunction:
        return self.contract.functions.recordLiveness(
            config_version, epoch, liveness.as_tuple(), sort_signatures(oracle_signatures)
        )

    def revoke_call(
        self,
        config_version: int,
        gpu_key: bytes,
        measured_at: int,
        oracle_signatures: Sequence[Any],
    ) -> ContractFunction:
        return self.contract.functions.revoke(
            config_version, gpu_key, measured_at, sort_signatures(oracle_signatures)
        )

    # ------------------------------------------------------------------ writes

    def set_config(self, admin: LocalAccount, oracles: Sequence[str], threshold: int) -> TxReceipt:
        return transact(self.w3, admin, self.set_config_call(oracles, threshold))

    def submit(
        self,
        sender: LocalAccount,
        config_version: int,
        entries: Sequence[tuple[GpuAttestation, bytes]],
        oracle_signatures: Sequence[tuple[str, bytes]],
        *,
        gas: int | None = None,
    ) -> TxReceipt:
        return transact(
            self.w3, sender, self.submit_call(config_version, entries, oracle_signatures), gas=gas
        )

    def record_liveness(
        self,
        sender: LocalAccount,
        config_version: int,
        epoch: int,
        liveness: Liveness,
        oracle_signatures: Sequence[tuple[str, bytes]],
    ) -> TxReceipt:
        return transact(
            self.w3, sender, self.liveness_call(config_version, epoch, liveness, oracle_signatures)
        )

    def revoke(
        self,
        sender: LocalAccount,
        config_version: int,
        gpu_key: bytes,
        measured_at: int,
        oracle_signatures: Sequence[tuple[str, bytes]],
    ) -> TxReceipt:
        return transact(
            self.w3,
            sender,
            self.revoke_call(config_version, gpu_key, measured_at, oracle_signatures),
        )

    def retire(self, provider: LocalAccount, gpu_key: bytes) -> TxReceipt:
        return transact(self.w3, provider, self.contract.functions.retire(gpu_key))

    # ------------------------------------------------------------------ digests

    def batch_digest(self, config_version: int, attestations: Sequence[GpuAttestation]) -> bytes:
        return AttestationBatch(config_version, tuple(attestations)).digest(self.domain)

    def liveness_digest(self, config_version: int, epoch: int, liveness: Liveness) -> bytes:
        return LivenessReport.of(config_version, epoch, liveness).digest(self.domain)

    def revocation_digest(self, config_version: int, gpu_key: bytes, measured_at: int) -> bytes:
        return GpuRevocation(config_version, gpu_key, measured_at).digest(self.domain)

    # ------------------------------------------------------------------ events

    def rejections(self, receipt: TxReceipt) -> list[tuple[bytes, int]]:
        """``(gpuKey, reason)`` of every entry the receipt's batch skipped."""
        events = self.contract.events.AttestationRejected().process_receipt(receipt, errors=DISCARD)
        return [(bytes(e["args"]["gpuKey"]), int(e["args"]["reason"])) for e in events]

    def attested(self, receipt: TxReceipt) -> list[dict[str, Any]]:
        events = self.contract.events.GpuAttested().process_receipt(receipt, errors=DISCARD)
        return [dict(e["args"]) for e in events]
