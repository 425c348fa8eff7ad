"""A provider's fleet for its console: GPUs with their status, agents with their expiry, and
the attestation history of its GPUs, the ones the contract rejected included.

GPUs come from the explorer's own query (:func:`api.inventory.list_gpus`, filtered to the
provider), so "verified", "online", "available", "healthy" and the uptimes mean what they mean
on the explorer. A rejection (``AttestationRejected``) names only the GPU key and the reason;
it is the provider's when that GPU key is one of its GPUs (attested at least once): the
rejection of a GPU's very first attestation names nobody the inventory knows, and is not shown.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from api.inventory import GpuFilters, LruCache, Page, Uptimes, as_of, list_gpus
from api.inventory._tables import AT, A, G, P
from depin.attestation import RejectReason
from indexer.models import EVENTS, Agent, Attestation

EV = EVENTS.c
REJECTED = "AttestationRejected"


def provider_gpus(
    session: Session,
    provider: str,
    *,
    window: int,
    limit: int,
    cursor: str | None,
    counts: LruCache,
    uptimes: Uptimes,
) -> Page:
    """The provider's GPUs (keyset pages by GPU key) as the explorer shows them."""
    return list_gpus(
        session,
        GpuFilters(provider=provider, online_epochs=window),
        sort="gpu_key",
        limit=limit,
        cursor=cursor,
        counts=counts,
        uptimes=uptimes,
    )


def provider_agents(session: Session, provider: str) -> tuple[list[dict[str, Any]], int]:
    """The provider's agent keys, newest authorization first, with their expiry."""
    block = as_of(session)
    now = int(time.time())
    status = session.execute(select(P.status).where(P.address == provider)).scalar_one_or_none()
    rows = session.execute(
        select(Agent.__table__)
        .where(A.provider == provider)
        .order_by(A.authorized_block.desc(), A.agent)
    ).all()
    return [
        {
            "agent": r.agent,
            "expires_at": int(r.expires_at),
            "expires_in_s": int(r.expires_at) - now,
            "revoked": bool(r.revoked),
            "authorized": (not r.revoked) and int(r.expires_at) > now and status == "active",
            "authorized_block": int(r.authorized_block),
        }
        for r in rows
    ], block


def provider_attestations(
    session: Session, provider: str, *, limit: int, before_block: int | None
) -> tuple[list[dict[str, Any]], int]:
    """The provider's attestations, accepted and rejected, newest first (``limit`` of them,
    in blocks below ``before_block`` if given)."""
    block = as_of(session)
    accepted = select(Attestation.__table__).where(AT.provider == provider)
    if before_block is not None:
        accepted = accepted.where(AT.block_number < before_block)
    rows: list[tuple[tuple[int, int], dict[str, Any]]] = []
    for r in session.execute(
        accepted.order_by(AT.block_number.desc(), AT.log_index.desc()).limit(limit)
    ).all():
        rows.append(
            (
                (int(r.block_number), int(r.log_index)),
                {
                    "outcome": "accepted",
                    "gpu_key": r.gpu_key,
                    "tx_hash": r.tx_hash,
                    "block_number": int(r.block_number),
                    "log_index": int(r.log_index),
                    "block_time": r.block_time,
                    "reason": None,
                    "agent": r.agent,
                    "model": r.model,
                    "throughput_gops": int(r.throughput_gops),
                    "measured_at": int(r.measured_at),
                    "expires_at": int(r.expires_at),
                },
            )
        )
    keys = union(
        select(G.gpu_key).where(G.provider == provider),
        select(AT.gpu_key).where(AT.provider == provider),
    ).subquery()
    gpu_key = EV.args["gpuKey"].as_string()
    rejected = select(EVENTS).where(
        EV.name == REJECTED,
        EV.contract == "AttestationOracle",
        gpu_key.in_(select(keys.c.gpu_key)),
    )
    if before_block is not None:
        rejected = rejected.where(EV.block_number < before_block)
    for r in session.execute(
        rejected.order_by(EV.block_number.desc(), EV.log_index.desc()).limit(limit)
    ).all():
        reason = int(r.args.get("reason", -1))
        rows.append(
            (
                (int(r.block_number), int(r.log_index)),
                {
                    "outcome": "rejected",
                    "gpu_key": r.args.get("gpuKey"),
                    "tx_hash": r.tx_hash,
                    "block_number": int(r.block_number),
                    "log_index": int(r.log_index),
                    "block_time": r.block_time,
                    "reason": RejectReason.NAMES.get(reason, f"unknown ({reason})"),
                    "agent": None,
                    "model": None,
                    "throughput_gops": None,
                    "measured_at": None,
                    "expires_at": None,
                },
            )
        )
    rows.sort(key=lambda pair: pair[0], reverse=True)
    return [item for _, item in rows[:limit]], block
