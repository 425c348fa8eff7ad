"""Response schemas of the explorer routes (GPUs, providers, stats)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.capabilities import GpuCapabilitiesView

_KEY = "0x8f7a4c3e2d1b0a99887766554433221100ffeeddccbbaa998877665544332211"
_PROVIDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_AGENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
_TX = "0x" + "ab" * 32

_ORACLES = [
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
]
GPU_EXAMPLE: dict[str, Any] = {
    "gpu_key": _KEY,
    "provider": _PROVIDER,
    "agent": _AGENT,
    "region": "eu-west",
    "gpu_index": 0,
    "vendor": "nvidia",
    "vendor_id": 4318,
    "model": "nvidia-h100-sxm5-80gb",
    "simulated": False,
    "memory_bytes": 85899345920,
    "throughput_gops": 1812345,
    "fp32_gflops": 61234,
    "fp16_gflops": 912345,
    "memory_bandwidth_gbps": 3187,
    "measured_at": 1767225600,
    "expires_at": 1767830400,
    "revoked": False,
    "revoked_by_provider": None,
    "verified": True,
    "online": True,
    "available": True,
    "healthy": True,
    "last_seen_epoch": 4123,
    "uptime_24h": 0.993,
    "uptime_7d": 0.981,
    "config_version": 1,
    "signers": _ORACLES,
    "attestation_tx": _TX,
    "first_attested_block": 1100,
    "attested_block": 1200,
}


class GpuItem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [GPU_EXAMPLE]})

    gpu_key: str = Field(description="keccak256 of vendor and device UUID")
    provider: str
    agent: str = Field(description="the agent key that signed the latest attestation")
    region: str | None = Field(description="the provider's region")
    gpu_index: int = Field(description="the GPU's bit in the liveness bitmaps")
    vendor: str
    vendor_id: int = Field(description="PCI vendor id")
    model: str
    simulated: bool = Field(
        description="replayed hardware of a demo fleet (model id `sim:...`), not real GPUs"
    )
    memory_bytes: int
    throughput_gops: int = Field(description="int8 GOPS verified by the oracles' proof of compute")
    fp32_gflops: int = Field(description="the agent's own benchmark")
    fp16_gflops: int
    memory_bandwidth_gbps: int
    measured_at: int
    expires_at: int
    revoked: bool
    revoked_by_provider: bool | None
    verified: bool = Field(description="attested, unexpired and unrevoked now")
    online: bool | None = Field(
        description="seen live within the last K recorded epochs; null (unknown) while the "
        "last liveness record lags the chain's clock by more than 2 epochs"
    )
    available: bool | None = Field(
        description="online and, in the last epoch that saw it, held by no compute process; "
        "false when offline; null when liveness is unknown"
    )
    healthy: bool | None = Field(
        description="online and, in the last epoch that saw it, free of ECC, XID, page "
        "retirement and throttling trouble; null when offline or liveness is unknown"
    )
    last_seen_epoch: int | None
    uptime_24h: float | None = Field(
        description="share of the recorded liveness epochs of the last 24 hours (up to the "
        "chain's current epoch) that saw the GPU online, counting only records made after its "
        "first attestation; epochs without a record (missing) count neither way; null when no "
        "record counts"
    )
    uptime_7d: float | None = Field(description="the same over the last 7 days")
    config_version: int = Field(description="oracle config the co-signers signed under")
    signers: list[str] = Field(description="oracles that co-signed the latest attestation")
    attestation_tx: str
    first_attested_block: int
    attested_block: int


LIVENESS_EXAMPLE: dict[str, Any] = {"last_epoch": 4123, "current_epoch": 4123, "fresh": True}


class LivenessState(BaseModel):
    """How recent the liveness an answer tells is."""

    model_config = ConfigDict(json_schema_extra={"examples": [LIVENESS_EXAMPLE]})

    last_epoch: int | None = Field(description="the last epoch with a liveness record")
    current_epoch: int | None = Field(
        description="the chain's epoch at the indexed block (null until the indexer knows it)"
    )
    fresh: bool = Field(
        description="the last record is at most 2 epochs behind the chain; when false, online, "
        "available and healthy are null and a filter on them matches nothing"
    )


class GpuPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [GPU_EXAMPLE],
                    "next_cursor": "WyItdGhyb3VnaHB1dCIsOTg5MDAwLCIweDhmIl0",
                    "total": 1234,
                    "total_exact": False,
                    "liveness": LIVENESS_EXAMPLE,
                    "as_of_block": 1210,
                }
            ]
        }
    )

    items: list[GpuItem]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")
    total: int = Field(
        description="how many GPUs match the filters in all: exact while the API's in-memory "
        "GPU index answers (from its start-up build on); from SQL (before that, or with the "
        "index switched off) exact up to 1,000 matching GPUs and estimated beyond (from a "
        "uniform sample of the GPUs; never below 1,001); `total_exact` says which"
    )
    total_exact: bool = Field(
        default=True,
        description="whether `total` is an exact count (false: an estimate, more than 1,000)",
    )
    liveness: LivenessState
    as_of_block: int


class GpuResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"gpu": GPU_EXAMPLE, "liveness": LIVENESS_EXAMPLE, "as_of_block": 1210}]
        }
    )

    gpu: GpuItem
    liveness: LivenessState
    as_of_block: int
    capabilities_hash: str | None = Field(
        default=None,
        description="the capability document its latest attestation names (null: none)",
    )
    capabilities_present: bool = Field(
        default=False,
        description="whether the API holds that document (put by an oracle or anyone, checked "
        "against the attested hash); false until it arrives",
    )
    capabilities: GpuCapabilitiesView | None = Field(
        default=None,
        description="the document's part for this GPU, and its host (null while absent)",
    )


class EpochStatus(BaseModel):
    epoch: int
    recorded: bool = Field(description="false: no liveness record for this epoch (missing)")
    block_number: int | None = Field(description="the block that recorded it")
    online: bool | None = Field(description="null when missing")
    available: bool | None = Field(description="null when missing; false when offline")
    healthy: bool | None = Field(description="null when missing or offline")


class GpuStatusResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "gpu_key": _KEY,
                    "gpu_index": 0,
                    "first_attested_block": 1100,
                    "epochs": [
                        {
                            "epoch": 4123,
                            "recorded": True,
                            "block_number": 1210,
                            "online": True,
                            "available": False,
                            "healthy": True,
                        },
                        {
                            "epoch": 4122,
                            "recorded": False,
                            "block_number": None,
                            "online": None,
                            "available": None,
                            "healthy": None,
                        },
                    ],
                    "liveness": LIVENESS_EXAMPLE,
                    "as_of_block": 1210,
                }
            ]
        }
    )

    gpu_key: str
    gpu_index: int
    first_attested_block: int
    epochs: list[EpochStatus] = Field(
        description="newest first, from the chain's current epoch (else the last recorded)"
    )
    liveness: LivenessState
    as_of_block: int


ATTESTATION_EXAMPLE: dict[str, Any] = {
    "tx_hash": _TX,
    "log_index": 3,
    "block_number": 1200,
    "block_time": 1767225612,
    "provider": _PROVIDER,
    "agent": _AGENT,
    "gpu_index": 0,
    "vendor": "nvidia",
    "vendor_id": 4318,
    "model": "nvidia-h100-sxm5-80gb",
    "memory_bytes": 85899345920,
    "throughput_gops": 1812345,
    "fp32_gflops": 61234,
    "fp16_gflops": 912345,
    "memory_bandwidth_gbps": 3187,
    "challenge": "0x" + "5e" * 32,
    "measured_at": 1767225600,
    "expires_at": 1767830400,
    "signers": _ORACLES,
    "config_version": 1,
}


class AttestationItem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ATTESTATION_EXAMPLE]})

    tx_hash: str
    log_index: int
    block_number: int
    block_time: int | None
    provider: str
    agent: str
    gpu_index: int
    vendor: str
    vendor_id: int
    model: str
    memory_bytes: int
    throughput_gops: int
    fp32_gflops: int
    fp16_gflops: int
    memory_bandwidth_gbps: int
    challenge: str = Field(description="the oracle's proof-of-compute challenge")
    measured_at: int
    expires_at: int
    signers: list[str] = Field(description="oracles that co-signed, ascending")
    config_version: int


class AttestationPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "gpu_key": _KEY,
                    "items": [ATTESTATION_EXAMPLE],
                    "next_before_block": None,
                    "as_of_block": 1210,
                }
            ]
        }
    )

    gpu_key: str
    items: list[AttestationItem]
    next_before_block: int | None = Field(description="pass as `before_block` for older ones")
    as_of_block: int


PROVIDER_EXAMPLE: dict[str, Any] = {
    "address": _PROVIDER,
    "name": "Acme GPU",
    "region": "eu-west",
    "endpoint": "https://gpu.acme.example",
    "metadata_uri": "ipfs://bafy",
    "metadata_hash": "0x" + "00" * 32,
    "status": "active",
    "registered_block": 17,
    "registered_at": 1767225000,
    "updated_block": 17,
    "deregistered_at": None,
    "gpu_count": 8,
}


class ProviderItem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PROVIDER_EXAMPLE]})

    address: str
    name: str
    region: str
    endpoint: str
    metadata_uri: str
    metadata_hash: str
    status: str = Field(description="active or deregistered")
    registered_block: int
    registered_at: int | None
    updated_block: int
    deregistered_at: int | None
    gpu_count: int


class ProviderPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": [PROVIDER_EXAMPLE], "next_cursor": None, "total": 1, "as_of_block": 1210}
            ]
        }
    )

    items: list[ProviderItem]
    next_cursor: str | None
    total: int
    as_of_block: int


class AgentItem(BaseModel):
    agent: str
    expires_at: int
    revoked: bool
    authorized: bool = Field(description="unrevoked, unexpired, and the provider is active")
    authorized_block: int


class Uptime(BaseModel):
    epochs: int = Field(description="how many recent epochs were looked at")
    ratio: float | None = Field(description="share of (GPU, epoch) pairs seen live")


class ProviderDetail(ProviderItem):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **PROVIDER_EXAMPLE,
                    "agents": [
                        {
                            "agent": _AGENT,
                            "expires_at": 1769904000,
                            "revoked": False,
                            "authorized": True,
                            "authorized_block": 18,
                        }
                    ],
                    "gpus": [GPU_EXAMPLE],
                    "uptime": {"epochs": 24, "ratio": 0.97},
                }
            ]
        }
    )

    agents: list[AgentItem]
    gpus: list[GpuItem] = Field(description="the provider's GPUs, fastest first (up to 100)")
    uptime: Uptime


class ProviderResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": {
                        **PROVIDER_EXAMPLE,
                        "agents": [],
                        "gpus": [],
                        "uptime": {"epochs": 0, "ratio": None},
                    },
                    "as_of_block": 1210,
                }
            ]
        }
    )

    provider: ProviderDetail
    as_of_block: int


class Bucket(BaseModel):
    key: str
    gpus: int
    verified_gpus: int
    online_gpus: int | None = Field(description="null while liveness is unknown")
    verified_throughput: int
    online_throughput: int | None = Field(description="null while liveness is unknown")


_BUCKET: dict[str, Any] = {
    "key": "nvidia",
    "gpus": 10,
    "verified_gpus": 9,
    "online_gpus": 8,
    "verified_throughput": 8901000,
    "online_throughput": 7912000,
}


class StatsResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "providers": 3,
                    "active_providers": 3,
                    "gpus": 10,
                    "verified_gpus": 9,
                    "online_gpus": 8,
                    "verified_throughput": 8901000,
                    "online_throughput": 7912000,
                    "online_memory": 652472,
                    "latest_epoch": 4123,
                    "liveness": LIVENESS_EXAMPLE,
                    "by_vendor": [_BUCKET],
                    "by_model": [{**_BUCKET, "key": "H100 80GB HBM3"}],
                    "by_region": [{**_BUCKET, "key": "eu-west"}],
                    "as_of_block": 1210,
                }
            ]
        }
    )

    providers: int
    active_providers: int
    gpus: int
    verified_gpus: int
    online_gpus: int | None = Field(
        description="verified and live within the last K epochs; null while liveness lags "
        "the chain by more than 2 epochs (unknown, not zero)"
    )
    verified_throughput: int
    online_throughput: int | None = Field(
        description="online capacity: verified throughput online (null while unknown)"
    )
    online_memory: int | None
    latest_epoch: int | None
    liveness: LivenessState
    by_vendor: list[Bucket]
    by_model: list[Bucket]
    by_region: list[Bucket]
    as_of_block: int


class CapacityPoint(BaseModel):
    epoch: int
    missing: bool = Field(
        default=False, description="no liveness record for this epoch (a gap between records)"
    )
    block_number: int | None = Field(
        description="the block that recorded the epoch's liveness (null when missing)"
    )
    block_time: int | None = Field(description="that block's timestamp (unix seconds)")
    online_gpus: int | None = Field(description="GPUs the oracles saw live in the epoch")
    available_gpus: int | None = Field(default=None, description="of those, free")
    healthy_gpus: int | None = Field(default=None, description="of those, healthy")
    online_throughput: int | None = Field(
        description="verified int8 GOPS of those GPUs (unrevoked and unexpired at block_time); "
        "null for epochs indexed before the indexer recorded it (rebuild to fill)"
    )


class CapacityHistory(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "points": [
                        {
                            "epoch": 4122,
                            "block_number": 1150,
                            "block_time": 1795910400,
                            "online_gpus": 8,
                            "online_throughput": 7912000,
                        },
                        {
                            "epoch": 4123,
                            "block_number": 1210,
                            "block_time": 1795914000,
                            "online_gpus": 9,
                            "online_throughput": 9712000,
                        },
                    ],
                    "liveness": LIVENESS_EXAMPLE,
                    "as_of_block": 1210,
                }
            ]
        }
    )

    points: list[CapacityPoint] = Field(
        description="one per epoch from the oldest asked for to the last recorded, oldest "
        "first; epochs between records are marked missing"
    )
    liveness: LivenessState
    as_of_block: int


SearchKind = Literal["gpu", "provider", "agent", "transaction", "model"]


class SearchItem(BaseModel):
    kind: SearchKind = Field(description="what the query names")
    key: str = Field(description="the GPU key, address, transaction hash or model name")
    label: str = Field(description="a line a person reads")
    links: dict[str, str] = Field(description="the API's routes for it, by name")


class SearchResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "nvidia-h1",
                    "items": [
                        {
                            "kind": "model",
                            "key": "nvidia-h100-sxm5-80gb",
                            "label": "nvidia-h100-sxm5-80gb",
                            "links": {"gpus": "/v1/gpus?model=nvidia-h100-sxm5-80gb"},
                        }
                    ],
                    "as_of_block": 1210,
                }
            ]
        }
    )

    query: str
    items: list[SearchItem] = Field(description="GPUs, then addresses or transactions, models")
    as_of_block: int
