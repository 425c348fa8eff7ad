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

from indexer.state import EventRow, Key, Working

KeyFn = Callable[[dict[str, Any]], Iterable[tuple[str, Key]]]
ApplyFn = Callable[[Working, EventRow], None]


@dataclass(frozen=True)
class Handler:
    event: str
    keys: KeyFn
    apply: ApplyFn


HANDLERS: dict[str, Handler] = {}


def handles(event: str, keys: KeyFn) -> Callable[[ApplyFn], ApplyFn]:
    """Registers the decorated function as the handler of ``event``."""

    def register(fn: ApplyFn) -> ApplyFn:
        if event in HANDLERS:
            raise ValueError(f"two handlers for {event}")
        HANDLERS[event] = Handler(event, keys, fn)
        return fn

    return register


def touched(events: Iterable[EventRow]) -> dict[str, set[Key]]:
    """Every current-state row the events' handlers will read or change."""
    wanted: dict[str, set[Key]] = {}
    for event in events:
        handler = HANDLERS.get(event["name"])
        if handler is not None:
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


@handles("ProviderRegistered", _provider_key)
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


@handles("AgentAuthorized", _agent_key)
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
    w.change(ev, "agent_authorized", key[0], agent=key[1], expires_at=args["expiresAt"])


@handles("AgentRevoked", _agent_key)
def _agent_revoked(w: Working, ev: EventRow) -> None:
    args, block = ev["args"], ev["block_number"]
    key = (args["provider"], args["agent"])
    w.update("agents", key, block, revoked=True, updated_block=block)
    w.change(ev, "agent_revoked", key[0], agent=key[1])
