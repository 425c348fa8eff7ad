"""Fast event decoding: one precomputed decoder per (contract address, topic0).

web3.py's per-log formatting and ``process_log`` dominate indexing time, so logs are taken raw
from ``eth_getLogs`` (hex strings) and decoded here. Elementary ABI types (address, intN/uintN,
bool, bytesN, bytes, string) are sliced straight out of the data; anything else (arrays, tuples)
goes through ``eth_abi.decode`` for that event. Values are normalized to JSON: checksummed
addresses, ``0x``-hex bytes, ints, bools, str.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode

from depin.artifacts import canonical_type
from depin.crypto import checksum_address, keccak

RawLog = dict[str, Any]
Slot = Callable[[bytes, int], Any]


def _clean_text(raw: bytes) -> str:
    # PostgreSQL text cannot hold NUL; invalid UTF-8 must not stop the indexer.
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _word_decoder(kind: str) -> Callable[[bytes], Any] | None:
    """Decoder of one 32-byte word holding a static elementary value, or None."""
    if kind == "address":
        return lambda w: checksum_address("0x" + w[12:32].hex())
    if kind == "bool":
        return lambda w: w[31] != 0
    if kind.startswith("uint"):
        return lambda w: int.from_bytes(w[:32], "big")
    if kind.startswith("int"):
        return lambda w: int.from_bytes(w[:32], "big", signed=True)
    if kind.startswith("bytes") and kind != "bytes" and "[" not in kind:
        size = int(kind[5:])
        return lambda w: "0x" + w[:size].hex()
    return None


def _slot_decoder(kind: str) -> Slot | None:
    """Decoder of a head slot at byte offset ``i`` of the data, or None if not elementary."""
    word = _word_decoder(kind)
    if word is not None:
        return lambda data, i: word(data[i : i + 32])
    if kind in ("string", "bytes"):
        as_text = kind == "string"

        def dynamic(data: bytes, i: int) -> Any:
            offset = int.from_bytes(data[i : i + 32], "big")
            length = int.from_bytes(data[offset : offset + 32], "big")
            raw = data[offset + 32 : offset + 32 + length]
            if len(raw) != length:
                raise ValueError("dynamic value runs past the end of the data")
            return _clean_text(raw) if as_text else "0x" + raw.hex()

        return dynamic
    return None


def normalize(kind: str, value: Any) -> Any:
    """JSON form of a value decoded by eth_abi for ABI type ``kind``."""
    if kind.endswith("]"):
        inner = kind[: kind.rindex("[")]
        return [normalize(inner, v) for v in value]
    if kind.startswith("("):
        parts = _split_tuple(kind[1:-1])
        return [normalize(p, v) for p, v in zip(parts, value, strict=True)]
    if kind == "address":
        return checksum_address(str(value).lower())
    if kind == "string":
        return _clean_text(value.encode("utf-8", errors="surrogatepass")) if value else value
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return value


def _split_tuple(inner: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        parts.append(current)
    return parts


@dataclass(frozen=True)
class EventDecoder:
    """Decoder of one event of one contract."""

    contract: str
    name: str
    signature: str
    topic0: str
    indexed: tuple[tuple[str, str], ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]
    slots: tuple[Slot, ...] | None

    @classmethod
    def from_abi(cls, contract: str, entry: dict[str, Any]) -> EventDecoder:
        inputs = entry["inputs"]
        signature = f"{entry['name']}({','.join(canonical_type(i) for i in inputs)})"
        indexed = tuple((i["name"], canonical_type(i)) for i in inputs if i.get("indexed"))
        data = [(i["name"], canonical_type(i)) for i in inputs if not i.get("indexed")]
        slot_list = [_slot_decoder(kind) for _, kind in data]
        slots = None if any(s is None for s in slot_list) else tuple(s for s in slot_list if s)
        return cls(
            contract=contract,
            name=str(entry["name"]),
            signature=signature,
            topic0="0x" + keccak(signature.encode()).hex(),
            indexed=indexed,
            data_names=tuple(n for n, _ in data),
            data_types=tuple(k for _, k in data),
            slots=slots,
        )

    def decode(self, topics: Sequence[str], data_hex: str) -> dict[str, Any]:
        """Arguments by name from a raw log's ``topics`` and ``data`` (hex strings)."""
        args: dict[str, Any] = {}
        if len(topics) != len(self.indexed) + 1:
            raise ValueError(
                f"{self.name}: {len(topics) - 1} indexed topics, not {len(self.indexed)}"
            )
        for (name, kind), topic in zip(self.indexed, topics[1:], strict=True):
            if kind == "address":
                args[name] = checksum_address("0x" + topic[26:])
                continue
            word = _word_decoder(kind)
            # dynamic indexed values are stored as their keccak hash
            args[name] = word(bytes.fromhex(topic[2:])) if word is not None else topic.lower()
        if self.data_names:
            data = bytes.fromhex(data_hex[2:])
            if len(data) < 32 * len(self.data_names):
                raise ValueError(f"{self.name}: data too short")
            if self.slots is not None:
                for n, (name, slot) in enumerate(zip(self.data_names, self.slots, strict=True)):
                    args[name] = slot(data, 32 * n)
            else:
                values = abi_decode(list(self.data_types), data)
                for name, kind, value in zip(self.data_names, self.data_types, values, strict=True):
                    args[name] = normalize(kind, value)
        return args


class LogDecoder:
    """Decoders for every event of a set of contracts: ``{address: (name, abi)}``."""

    def __init__(self, contracts: Iterable[tuple[str, str, list[dict[str, Any]]]]) -> None:
        """``contracts``: (contract name, address, ABI) triples."""
        self._by_address: dict[str, tuple[str, str, dict[str, EventDecoder]]] = {}
        for contract, address, abi in contracts:
            table = {}
            for entry in abi:
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    decoder = EventDecoder.from_abi(contract, entry)
                    table[decoder.topic0] = decoder
            self._by_address[address.lower()] = (contract, checksum_address(address.lower()), table)

    @property
    def addresses(self) -> list[str]:
        return [address for _, address, _ in self._by_address.values()]

    def events(self) -> list[EventDecoder]:
        return [d for _, _, table in self._by_address.values() for d in table.values()]

    def decode(self, log: RawLog) -> dict[str, Any] | None:
        """An ``events`` row for a raw log, or None for a log this ABI does not declare."""
        entry = self._by_address.get(log["address"].lower())
        topics = log["topics"]
        if entry is None or not topics:
            return None
        contract, address, table = entry
        decoder = table.get(topics[0].lower())
        if decoder is None:
            return None
        block_time = log.get("blockTimestamp")
        return {
            "block_number": int(log["blockNumber"], 16),
            "log_index": int(log["logIndex"], 16),
            "tx_hash": log["transactionHash"].lower(),
            "tx_index": int(log["transactionIndex"], 16),
            "block_hash": log["blockHash"].lower(),
            "block_time": int(block_time, 16) if block_time else None,
            "address": address,
            "contract": contract,
            "name": decoder.name,
            "args": decoder.decode(topics, log["data"]),
        }
