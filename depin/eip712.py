"""EIP-712 typed data: the domain and the encoding machinery every message type shares.

Message types are declared once (see :mod:`depin.messages`) and used by signers and verifiers
alike: the struct hash is computed here with precomputed type hashes (no per-call parsing of
type strings), and :meth:`Message.typed_data` gives the exact ``eth_signTypedData_v4`` JSON a
wallet signs. A test checks that both agree with eth-account and with the contracts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount

from depin.crypto import checksum_address, hex_bytes, keccak, recover, sign_digest, to_hex
from depin.errors import SignatureError

__all__ = ["Domain", "Message", "parse_typed_data", "recover"]

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


@dataclass(frozen=True)
class Domain:
    """An EIP-712 domain: one per contract, read from the live contract (EIP-5267)."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    @property
    def separator(self) -> bytes:
        return keccak(
            _DOMAIN_TYPEHASH
            + keccak(self.name.encode())
            + keccak(self.version.encode())
            + self.chain_id.to_bytes(32, "big")
            + bytes(12)
            + bytes.fromhex(self.verifying_contract[2:])
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": checksum_address(self.verifying_contract),
        }

    @classmethod
    def from_eip5267(cls, result: tuple[Any, ...] | list[Any]) -> Domain:
        """From the return value of ``eip712Domain()`` (fields, name, version, chainId, ...)."""
        _fields, name, version, chain_id, verifying_contract, _salt, _ext = result
        return cls(str(name), str(version), int(chain_id), checksum_address(verifying_contract))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Domain:
        return cls(
            str(data["name"]),
            str(data["version"]),
            int(data["chainId"]),
            checksum_address(data["verifyingContract"]),
        )


def _encode_atomic(sol_type: str, value: Any) -> bytes:
    if sol_type == "address":
        return bytes(12) + bytes.fromhex(str(value)[2:].rjust(40, "0"))
    if sol_type == "string":
        return keccak(str(value).encode())
    if sol_type == "bytes":
        return keccak(hex_bytes(value))
    if sol_type == "bool":
        return int(bool(value)).to_bytes(32, "big")
    if sol_type.startswith("bytes"):
        raw = hex_bytes(value)
        size = int(sol_type[5:])
        if len(raw) != size:
            raise ValueError(f"{sol_type} needs {size} bytes, got {len(raw)}")
        return raw.ljust(32, b"\0")
    if sol_type.startswith("uint"):
        bits = int(sol_type[4:] or 256)
        number = int(value)
        if not 0 <= number < 1 << bits:
            raise ValueError(f"{number} does not fit {sol_type}")
        return number.to_bytes(32, "big")
    if sol_type.startswith("int"):
        bits = int(sol_type[3:] or 256)
        number = int(value)
        if not -(1 << (bits - 1)) <= number < 1 << (bits - 1):
            raise ValueError(f"{number} does not fit {sol_type}")
        return number.to_bytes(32, "big", signed=True)
    raise ValueError(f"unsupported EIP-712 type {sol_type}")


def _json_value(sol_type: str, value: Any) -> Any:
    if sol_type == "address":
        return checksum_address(value)
    if sol_type.startswith("bytes"):
        return to_hex(hex_bytes(value))
    if sol_type.startswith(("uint", "int")):
        number = int(value)
        # Wallets take decimal strings for values beyond JavaScript's safe integers.
        return number if abs(number) < 2**53 else str(number)
    return value


@dataclass(frozen=True)
class Message:
    """Base of every EIP-712 message type.

    Subclasses are frozen dataclasses whose fields are declared in ``FIELDS`` as
    ``(solidity name, solidity type)`` pairs, in the order of the dataclass fields.
    """

    PRIMARY_TYPE: ClassVar[str]
    FIELDS: ClassVar[tuple[tuple[str, str], ...]]
    TYPE_STRING: ClassVar[str]
    TYPEHASH: ClassVar[bytes]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "FIELDS" in cls.__dict__:
            members = ",".join(f"{t} {n}" for n, t in cls.FIELDS)
            cls.TYPE_STRING = f"{cls.PRIMARY_TYPE}({members})"
            cls.TYPEHASH = keccak(cls.TYPE_STRING.encode())

    def _values(self) -> list[Any]:
        values = [getattr(self, f.name) for f in fields(self)]
        if len(values) != len(self.FIELDS):
            raise TypeError(f"{type(self).__name__}: FIELDS and dataclass fields differ")
        return values

    def struct_hash(self) -> bytes:
        encoded = b"".join(
            _encode_atomic(t, v) for (_, t), v in zip(self.FIELDS, self._values(), strict=True)
        )
        return keccak(self.TYPEHASH + encoded)

    def digest(self, domain: Domain) -> bytes:
        """The EIP-712 digest ``keccak256(0x1901 ‖ domainSeparator ‖ structHash)``."""
        return keccak(b"\x19\x01" + domain.separator + self.struct_hash())

    def message_json(self) -> dict[str, Any]:
        return {n: _json_value(t, v) for (n, t), v in zip(self.FIELDS, self._values(), strict=True)}

    def typed_data(self, domain: Domain) -> dict[str, Any]:
        """The ``eth_signTypedData_v4`` JSON a wallet signs."""
        return {
            "types": {
                "EIP712Domain": _DOMAIN_TYPE,
                self.PRIMARY_TYPE: [{"name": n, "type": t} for n, t in self.FIELDS],
            },
            "primaryType": self.PRIMARY_TYPE,
            "domain": domain.as_json(),
            "message": self.message_json(),
        }

    @classmethod
    def from_message_json(cls, message: dict[str, Any]) -> Message:
        """Rebuilds the message from the ``message`` part of typed data."""
        kwargs: dict[str, Any] = {}
        for f, (n, t) in zip(fields(cls), cls.FIELDS, strict=True):
            if n not in message:
                raise ValueError(f"{cls.PRIMARY_TYPE} typed data lacks field {n!r}")
            value = message[n]
            if t.startswith(("uint", "int")):
                value = int(value)
            elif t == "address":
                value = checksum_address(value)
            elif t.startswith("bytes"):
                value = hex_bytes(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    def sign(self, account: LocalAccount, domain: Domain) -> bytes:
        """Signs the digest with a local key; returns the 65-byte signature (r ‖ s ‖ v)."""
        return sign_digest(account, self.digest(domain))


def parse_typed_data(
    data: dict[str, Any], registry: dict[str, type[Message]]
) -> tuple[Domain, Message]:
    """Validates typed-data JSON against the known message types; returns (domain, message)."""
    try:
        primary = str(data["primaryType"])
        message_type = registry[primary]
    except KeyError as exc:
        raise SignatureError(f"unknown or missing primaryType in typed data: {exc}") from None
    declared = [(f["name"], f["type"]) for f in data.get("types", {}).get(primary, [])]
    if declared != list(message_type.FIELDS):
        raise SignatureError(f"typed data declares {primary} differently from this protocol")
    try:
        return Domain.from_json(data["domain"]), message_type.from_message_json(data["message"])
    except (KeyError, ValueError, TypeError) as exc:
        raise SignatureError(f"malformed {primary} typed data: {exc}") from exc
