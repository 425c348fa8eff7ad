"""Follows contracts' events block by block: ``eth_getLogs`` over ranges that shrink when a node
answers "too many results" (or fails), decoded with the contracts' ABIs, and the hash of the last
block read kept, so that a reorg under it is noticed (:class:`Reorg`) instead of read past."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3 import Web3
from web3._utils.events import get_event_data

from depin import artifacts
from depin.errors import ChainError

__all__ = ["ChainEvent", "EventFollower", "Reorg"]


class Reorg(ChainError):
    """The block the follower read last is no longer on the chain."""

    code = "reorg"

    def __init__(self, block: int) -> None:
        self.block = block
        super().__init__(f"block {block} is no longer on the chain: a reorg")


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log."""

    name: str
    address: str
    args: dict[str, Any]
    block_number: int
    log_index: int


class EventFollower:
    """Reads the events of ``contracts`` (``address -> contract name``) from ``from_block`` on.

    Each :meth:`poll` returns the events of the blocks that appeared since the last one, in
    order, or raises :class:`Reorg` when the last block read was replaced (the caller starts
    again from scratch with a new follower).
    """

    def __init__(
        self,
        w3: Web3,
        contracts: dict[str, str],
        from_block: int = 0,
        *,
        events: Iterable[str] | None = None,
        max_range: int = 5000,
    ) -> None:
        self.w3 = w3
        self.addresses = [to_checksum_address(a) for a in contracts]
        wanted = set(events) if events is not None else None
        self._abis: dict[bytes, dict[str, Any]] = {}
        for name in set(contracts.values()):
            for item in artifacts.abi(name):
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                if wanted is None or item["name"] in wanted:
                    self._abis[event_abi_to_log_topic(cast(Any, item))] = item
        self.next_block = from_block
        self.max_range = max_range
        self._range = max_range
        self.last: tuple[int, bytes] | None = None
        """``(number, hash)`` of the last block read."""
        self.head_timestamp = 0
        """The timestamp of the last block read."""

    def poll(self) -> list[ChainEvent]:
        """The events of every block since the last poll, up to the chain's head."""
        if self.last is not None:
            block = self.w3.eth.get_block(self.last[0])
            if bytes(block["hash"]) != self.last[1]:
                raise Reorg(self.last[0])
        head = self.w3.eth.get_block("latest")
        head_number = int(head["number"])
        if head_number < self.next_block:
            if self.last is not None and head_number < self.last[0]:
                raise Reorg(self.last[0])
            return []
        found: list[ChainEvent] = []
        start = self.next_block
        while start <= head_number:
            end = min(head_number, start + self._range - 1)
            try:
                logs = self.w3.eth.get_logs(
                    {
                        "fromBlock": start,
                        "toBlock": end,
                        "address": self.addresses,
                        "topics": [["0x" + t.hex() for t in self._abis]],
                    }
                )
            except Exception:
                if end == start:
                    raise
                self._range = max(1, (end - start + 1) // 2)  # too many results: shrink
                continue
            found.extend(self._decode(log) for log in logs if log["topics"])
            start = end + 1
            self._range = min(self.max_range, self._range * 2)
        self.next_block = head_number + 1
        self.last = (head_number, bytes(head["hash"]))
        self.head_timestamp = int(head["timestamp"])
        found.sort(key=lambda e: (e.block_number, e.log_index))
        return found

    def _decode(self, log: Any) -> ChainEvent:
        abi = self._abis[bytes(log["topics"][0])]
        data = get_event_data(self.w3.codec, abi, log)
        return ChainEvent(
            name=str(data["event"]),
            address=str(data["address"]),
            args=dict(data["args"]),
            block_number=int(data["blockNumber"]),
            log_index=int(data["logIndex"]),
        )
