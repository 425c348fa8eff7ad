"""Event handlers: how each contract event changes the inventory, keyed by event name.

A handler declares the current-state rows it touches (``keys``), so a whole range's rows are
loaded in one query per table, and applies one event to the :class:`~indexer.state.Working`
set. Events without a handler (``OwnershipTransferred``, ``Paused``, ...) are still kept in the
``events`` table. Handlers must be deterministic functions of the events alone: replaying every
event into an empty database must give the same inventory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from depin.attestation import GpuStatus, Liveness, model_text, unpack_figures, unpack_quorum
from indexer.state import EventRow, Key, Working

KeyFn = Callable[[dict[str, Any]], Iterable[tuple[str, Key]]]
ApplyFn = Callable[[Working, EventRow], None]


@dataclass(frozen=True)
class Handler:
    event: str
    keys: KeyFn
    apply: ApplyFn
    #: False for handlers that replace their rows without reading them (blind writes): their
    #: rows are only loaded when an undo pre-image must be kept
    reads: bool = True


HANDLERS: dict[str, Handler] = {}


def handles(event: str, keys: KeyFn, *, reads: bool = True) -> Callable[[ApplyFn], ApplyFn]:
    """Registers the decorated function as the handler of ``event``."""

    def register(fn: ApplyFn) -> ApplyFn:
        if event in HANDLERS:
            raise ValueError(f"two handlers for {event}")
        HANDLERS[event] = Handler(event, keys, fn, reads)
        return fn

    return register


def touched(events: Iterable[EventRow], undo_above: int) -> dict[str, set[Key]]:
    """Every current-state row the events' handlers will read, or change in a block above
    ``undo_above`` (where the row's pre-image goes to the undo log)."""
    wanted: dict[str, set[Key]] = {}
    for event in events:
        handler = HANDLERS.get(event["name"])
        if handler is not None and (handler.reads or event["block_number"] > undo_above):
            for table, key in handler.keys(event["args"]):
                wanted.setdefault(table, set()).add(key)
    return wanted


def apply(working: Working, events: Iterable[EventRow]) -> None:
    """Applies ``events`` (in chain order) to ``working``."""
    for event in events:
        handler = HANDLERS.get(event["name"])
        if handler is not None:
            handler.apply(working, event)


# --------------------------------------------------------------------------- ProviderRegistry


def _provider_key(args: dict[str, Any]) -> Iterable[tuple[str, Key]]:
    return [("providers", (args["provider"],))]


def _agent_key(args: dict[str, Any]) -> Iterable[tuple[str, Key]]:
    return [("agents", (args["provider"], args["agent"]))]


def _profile(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": args["name"],
        "region": args["region"],
        "endpoint": args["endpoint"],
        "metadata_uri": args["metadataURI"],
        "metadata_hash": args["metadataHash"],
    }


@handles("ProviderRegistered", _provider_key, reads=False)
def _provider_registered(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    address = args["provider"]
    w.put(
        "providers",
        (address,),
        block,
        {
            "address": address,
            **_profile(args),
            "status": "active",
            "registered_block": block,
            "registered_at": ev["block_time"],
            "updated_block": block,
            "deregistered_at": None,
        },
    )
    w.change(ev, "provider_registered", address, name=args["name"], region=args["region"])


@handles("ProviderUpdated", _provider_key)
def _provider_updated(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    address = args["provider"]
    if not w.update("providers", (address,), block, **_profile(args), updated_block=block):
        # the contract only updates registered providers; keep the facts anyway
        _provider_registered(w, ev)
        return
    w.change(ev, "provider_updated", address, name=args["name"], region=args["region"])


@handles("ProviderDeregistered", _provider_key)
def _provider_deregistered(w: Working, ev: EventRow) -> None:
    address, block = ev["args"]["provider"], ev["block_number"]
    w.update(
        "providers",
        (address,),
        block,
        status="deregistered",
        deregistered_at=ev["block_time"],
        updated_block=block,
    )
    w.change(ev, "provider_deregistered", address)


@handles("AgentAuthorized", _agent_key, reads=False)
def _agent_authorized(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    key = (args["provider"], args["agent"])
    w.put(
        "agents",
        key,
        block,
        {
            "provider": key[0],
            "agent": key[1],
            "expires_at": args["expiresAt"],
            "revoked": False,
            "authorized_block": block,
            "updated_block": block,
        },
    )


@handles("AgentRevoked", _agent_key)
def _agent_revoked(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    key = (args["provider"], args["agent"])
    w.update("agents", key, block, revoked=True, updated_block=block)


# --------------------------------------------------------------------------- AttestationOracle

#: PCI vendor ids of the GPU vendors the agents know
VENDORS = {0x10DE: "nvidia", 0x1002: "amd", 0x8086: "intel"}


def vendor_name(vendor_id: int) -> str:
    return VENDORS.get(vendor_id, f"0x{vendor_id:04x}")


def _config_version(quorum: int) -> int:
    return unpack_quorum(quorum)[0]


def _signers(w: Working, quorum: int) -> tuple[int, list[str]]:
    """The config version of a quorum word and the addresses of the oracles whose bits are set
    (``#i`` for a bit the indexed configs do not cover)."""
    version, bitmap = unpack_quorum(quorum)
    config = w.get("oracle_configs", (version,))
    oracles: list[str] = list(config["oracles"]) if config else []
    signers = []
    for i in range(bitmap.bit_length()):
        if bitmap >> i & 1:
            signers.append(oracles[i] if i < len(oracles) else f"#{i}")
    return version, signers


@handles("OracleConfigSet", lambda a: [("oracle_configs", (a["version"],))], reads=False)
def _oracle_config_set(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    w.put(
        "oracle_configs",
        (args["version"],),
        block,
        {
            "version": args["version"],
            "oracles": list(args["oracles"]),
            "threshold": args["threshold"],
            "block_number": block,
            "block_time": ev["block_time"],
            "tx_hash": ev["tx_hash"],
        },
    )
    w.change(
        ev,
        "oracle_config_set",
        None,
        version=args["version"],
        oracles=list(args["oracles"]),
        threshold=args["threshold"],
    )


_NO_DOCUMENT = "0x" + "00" * 32


def _capabilities(word: str | None) -> str | None:
    """The capability document hash of a ``GpuAttested`` event, None for the zero word."""
    return None if word is None or word == _NO_DOCUMENT else word.lower()


@handles(
    "GpuAttested",
    lambda a: [
        ("gpus", (a["gpuKey"],)),
        ("oracle_configs", (_config_version(a["quorum"]),)),
    ],
)
def _gpu_attested(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    key = args["gpuKey"]
    figures = unpack_figures(args["figures"])
    version, signers = _signers(w, args["quorum"])
    vendor = vendor_name(args["vendorId"])
    model = model_text(bytes.fromhex(args["model"][2:]))
    attested = {
        "gpu_key": key,
        "provider": args["provider"],
        "agent": args["agent"],
        "gpu_index": args["index"],
        "vendor": vendor,
        "vendor_id": args["vendorId"],
        "model": model,
        "memory_bytes": args["memoryBytes"],
        "throughput_gops": figures["proven_int8_gops"],
        "fp32_gflops": figures["fp32_gflops"],
        "fp16_gflops": figures["fp16_gflops"],
        "memory_bandwidth_gbps": figures["memory_bandwidth_gbps"],
        "measured_at": args["measuredAt"],
        "expires_at": args["expiresAt"],
        "capabilities": _capabilities(args.get("capabilities")),
        "config_version": version,
        "signers": signers,
    }
    current = w.get("gpus", (key,))
    w.put(
        "gpus",
        (key,),
        block,
        {
            **attested,
            "revoked": False,
            "revoked_by_provider": None,
            "last_seen_epoch": current["last_seen_epoch"] if current else None,
            "online": current["online"] if current else False,
            "available": current["available"] if current else None,
            "healthy": current["healthy"] if current else None,
            "attestation_tx": ev["tx_hash"],
            "first_attested_block": current["first_attested_block"] if current else block,
            "attested_block": block,
            "updated_block": block,
        },
    )
    w.append(
        "attestations",
        {
            **attested,
            "tx_hash": ev["tx_hash"],
            "log_index": ev["log_index"],
            "block_number": block,
            "block_time": ev["block_time"],
            "challenge": args["challenge"],
        },
    )
    w.change(
        ev,
        "gpu_attested",
        key,
        provider=args["provider"],
        vendor=vendor,
        model=model,
        memory_bytes=args["memoryBytes"],
        throughput_gops=figures["proven_int8_gops"],
        expires_at=args["expiresAt"],
    )


@handles("GpuRevoked", lambda a: [("gpus", (a["gpuKey"],))])
def _gpu_revoked(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    key = args["gpuKey"]
    w.update(
        "gpus",
        (key,),
        block,
        revoked=True,
        revoked_by_provider=args["byProvider"],
        updated_block=block,
    )
    w.change(
        ev,
        "gpu_revoked",
        key,
        provider=args["provider"],
        measured_at=args["measuredAt"],
        by_provider=args["byProvider"],
    )


@handles("LivenessRecorded", lambda a: [("oracle_configs", (_config_version(a["quorum"]),))])
def _liveness_recorded(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    epoch = args["epoch"]
    liveness = Liveness(*(bytes.fromhex(args[p][2:]) for p in ("online", "available", "healthy")))
    statuses = liveness.statuses()
    indexes = sorted(statuses)
    version, signers = _signers(w, args["quorum"])
    seen: dict[int, Key] = {}
    for key in w.where("gpus", "gpu_index", indexes):
        row = w.get("gpus", key)
        assert row is not None
        seen[int(row["gpu_index"])] = key
    was_online = set(w.where("gpus", "online", [True]))
    at = ev["block_time"]
    online_gops = 0
    for index, key in sorted(seen.items()):
        row = w.get("gpus", key)
        assert row is not None
        if not row["revoked"] and (at is None or row["expires_at"] > at):
            online_gops += row["throughput_gops"]  # verified and online in this epoch
        status = statuses[index]
        available = bool(status & GpuStatus.AVAILABLE)
        healthy = bool(status & GpuStatus.HEALTHY)
        w.update(
            "gpus",
            key,
            block,
            online=True,
            available=available,
            healthy=healthy,
            last_seen_epoch=epoch,
            updated_block=block,
        )
        if not row["online"]:
            w.change(ev, "gpu_online", key[0], epoch=epoch, gpu_index=index)
        if row["healthy"] is not False and not healthy:
            w.change(ev, "gpu_unhealthy", key[0], epoch=epoch, gpu_index=index)
        elif row["healthy"] is False and healthy:
            w.change(ev, "gpu_healthy", key[0], epoch=epoch, gpu_index=index)
    for key in sorted(was_online - set(seen.values())):
        row = w.get("gpus", key)
        assert row is not None
        # Offline: whether it is free or healthy is not known.
        w.update(
            "gpus", key, block, online=False, available=None, healthy=None, updated_block=block
        )
        w.change(ev, "gpu_offline", key[0], epoch=epoch, gpu_index=row["gpu_index"])
    w.append(
        "liveness",
        {
            "tx_hash": ev["tx_hash"],
            "log_index": ev["log_index"],
            "block_number": block,
            "block_time": ev["block_time"],
            "epoch": epoch,
            "gpu_indexes": indexes,
            "online_count": len(indexes),
            "available_count": sum(1 for s in statuses.values() if s & GpuStatus.AVAILABLE),
            "healthy_count": sum(1 for s in statuses.values() if s & GpuStatus.HEALTHY),
            "online_gops": online_gops,
            "bitmap": args["online"],
            "available": args["available"],
            "healthy": args["healthy"],
            "config_version": version,
            "signers": signers,
        },
    )
