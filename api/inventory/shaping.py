"""Rows of the inventory as the API answers them (plain dicts its response schemas validate)."""

from __future__ import annotations

from typing import Any

from api.inventory.predicates import is_verified, liveness_of
from depin.simulation import is_simulated


def gpu_item(
    row: Any,
    region: str | None,
    epoch: int | None,
    window: int,
    now: int,
    *,
    fresh: bool,
    uptime: dict[str, float | None] | None = None,
) -> dict[str, Any]:
    """One GPU; ``fresh`` says whether liveness is recent enough to be told (else online,
    available and healthy are None)."""
    seen = row.last_seen_epoch
    online, available, healthy = liveness_of(seen, row.available, row.healthy, epoch, window, fresh)
    return {
        "gpu_key": row.gpu_key,
        "provider": row.provider,
        "agent": row.agent,
        "region": region,
        "gpu_index": int(row.gpu_index),
        "vendor": row.vendor,
        "vendor_id": int(row.vendor_id),
        "model": row.model,
        "simulated": is_simulated(row.model),
        "memory_bytes": int(row.memory_bytes),
        "throughput_gops": int(row.throughput_gops),
        "fp32_gflops": int(row.fp32_gflops),
        "fp16_gflops": int(row.fp16_gflops),
        "memory_bandwidth_gbps": int(row.memory_bandwidth_gbps),
        "measured_at": int(row.measured_at),
        "expires_at": int(row.expires_at),
        "revoked": bool(row.revoked),
        "revoked_by_provider": row.revoked_by_provider,
        "verified": is_verified(row.revoked, row.expires_at, now),
        "online": online,
        "available": available,
        "healthy": healthy,
        "last_seen_epoch": seen,
        "uptime_24h": (uptime or {}).get("uptime_24h"),
        "uptime_7d": (uptime or {}).get("uptime_7d"),
        "config_version": int(row.config_version),
        "signers": list(row.signers or []),
        "attestation_tx": row.attestation_tx,
        "first_attested_block": int(row.first_attested_block),
        "attested_block": int(row.attested_block),
    }


def attestation_item(row: Any) -> dict[str, Any]:
    return {
        "tx_hash": row.tx_hash,
        "log_index": int(row.log_index),
        "block_number": int(row.block_number),
        "block_time": row.block_time,
        "provider": row.provider,
        "agent": row.agent,
        "gpu_index": int(row.gpu_index),
        "vendor": row.vendor,
        "vendor_id": int(row.vendor_id),
        "model": row.model,
        "memory_bytes": int(row.memory_bytes),
        "throughput_gops": int(row.throughput_gops),
        "fp32_gflops": int(row.fp32_gflops),
        "fp16_gflops": int(row.fp16_gflops),
        "memory_bandwidth_gbps": int(row.memory_bandwidth_gbps),
        "challenge": row.challenge,
        "measured_at": int(row.measured_at),
        "expires_at": int(row.expires_at),
        "signers": list(row.signers or []),
        "config_version": int(row.config_version),
    }


def provider_item(row: Any) -> dict[str, Any]:
    return {
        "address": row.address,
        "name": row.name,
        "region": row.region,
        "endpoint": row.endpoint,
        "metadata_uri": row.metadata_uri,
        "metadata_hash": row.metadata_hash,
        "status": row.status,
        "registered_block": int(row.registered_block),
        "registered_at": row.registered_at,
        "updated_block": int(row.updated_block),
        "deregistered_at": row.deregistered_at,
    }
