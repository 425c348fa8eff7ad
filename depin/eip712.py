"""EIP-712 typed data: the domain and the encoding machinery every message type shares.

Message types are declared once (see :mod:`depin.messages`) and used by signers and verifiers
alike: the struct hash is computed here with precomputed type hashes (no per-call parsing of
type strings), and :meth:`Message.typed_data` gives the exact ``eth_signTypedData_v4`` JSON a
wallet signs. A test checks that both agree with eth-account and with the contracts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount

from depin.crypto import checksum_address, hex_bytes, keccak, recover, sign_digest, to_hex
from depin.errors import SignatureError

__all__ = [
    "DOMAIN_FIELDS",
    "Domain",
    "Message",
    "address_word",
    "domain_difference",
    "parse_int",
    "parse_typed_data",
    "recover",
]

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


def address_word(address: str) -> bytes:
    """A ``0x`` address as the 32-byte word a struct hash encodes it in."""
    return bytes(12) + bytes.fromhex(address[2:])


DOMAIN_FIELDS = tuple(f["name"] for f in _DOMAIN_TYPE)
"""The domain's fields as typed data names them (name, version, chainId, verifyingContract)."""

_DECIMAL = re.compile(r"-?[0-9]{1,80}")
_HEX_INT = re.compile(r"0[xX][0-9a-fA-F]{1,64}")
_HEX = re.compile(r"(0[xX])?([0-9a-fA-F]{2})*")


def _bounds(sol_type: str) -> tuple[int, int]:
    """``[low, high)`` of an EIP-712 integer type (``uint64``, ``int256``, ...)."""
    if sol_type.startswith("uint"):
        return 0, 1 << int(sol_type[4:] or 256)
    bits = int(sol_type[3:] or 256)
    return -(1 << (bits - 1)), 1 << (bits - 1)


def parse_int(value: object, sol_type: str = "uint256") -> int:
    """An integer as wallets send one: a JSON integer, a decimal string or a ``0x``-hex string,
    within the bounds of ``sol_type``.

    Raises:
        ValueError: a float, a boolean, another type, or a number outside ``sol_type``; the
            message says what is accepted.
    """
    low, high = _bounds(sol_type)
    if isinstance(value, bool) or not isinstance(value, int | str):
        kind = "a boolean" if isinstance(value, bool) else f"a {type(value).__name__}"
        raise ValueError(
            f"expected a {sol_type} (an integer, or a decimal or 0x-hex string), got {kind}"
        )
    if isinstance(value, str):
        if _HEX_INT.fullmatch(value):
            number = int(value, 16)
        elif _DECIMAL.fullmatch(value):
            number = int(value)
        else:
            raise ValueError(f"expected a {sol_type} as a decimal or 0x-hex string")
    else:
        number = value
    if not low <= number < high:
        raise ValueError(f"out of range for {sol_type}: {low} <= n <= {high - 1}")
    return number


def _parse_bytes(value: object, size: int | None) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ValueError("expected 0x-prefixed hex (an even number of digits)")
    raw = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    if size is not None and len(raw) != size:
        raise ValueError(f"expected bytes{size}: {size} bytes, got {len(raw)}")
    return raw


def _parse_value(sol_type: str, value: object) -> Any:
    """One field of a message from its typed-data JSON, strictly (see :func:`parse_int`)."""
    if sol_type.startswith(("uint", "int")):
        return parse_int(value, sol_type)
    if sol_type == "address":
        if not isinstance(value, str):
            raise ValueError("expected a 0x-prefixed address")
        return checksum_address(value)
    if sol_type == "string":
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    if sol_type == "bool":
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if sol_type == "bytes":
        return _parse_bytes(value, None)
    if sol_type.startswith("bytes"):
        return _parse_bytes(value, int(sol_type[5:]))
    raise ValueError(f"unsupported EIP-712 type {sol_type}")


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
            + address_word(self.verifying_contract)
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
        """Strictly: exactly the four fields, each of its type.

        Raises:
            ValueError: naming the field that is missing, unknown or malformed.
        """
        if not isinstance(data, dict):
            raise ValueError("domain: expected an object")
        for name in data:
            if name not in DOMAIN_FIELDS:
                raise ValueError(f"domain.{name}: unknown field; the fields are {DOMAIN_FIELDS}")
        values = []
        for field, sol_type in (
            ("name", "string"),
            ("version", "string"),
            ("chainId", "uint256"),
            ("verifyingContract", "address"),
        ):
            if field not in data:
                raise ValueError(f"domain.{field}: missing")
            try:
                values.append(_parse_value(sol_type, data[field]))
            except ValueError as exc:
                raise ValueError(f"domain.{field}: {exc}") from None
        return cls(*values)


def domain_difference(theirs: Domain, ours: Domain) -> tuple[str, object, object] | None:
    """The first domain field where ``theirs`` differs from ours: (its typed-data name, their
    value, ours), or None when the domains are the same."""
    for field, attribute in zip(
        DOMAIN_FIELDS, ("name", "version", "chain_id", "verifying_contract"), strict=True
    ):
        a, b = getattr(theirs, attribute), getattr(ours, attribute)
        same = a.lower() == b.lower() if attribute == "verifying_contract" else a == b
        if not same:
            return field, a, b
    return None


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

    @classmethod
    def typed_fields(cls) -> list[dict[str, str]]:
        """The type's fields as typed data's ``types`` declares them."""
        return [{"name": n, "type": t} for n, t in cls.FIELDS]

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
        """Rebuilds the message from the ``message`` part of typed data, strictly: every field
        of the type and no other, each parsed as its Solidity type (integers as JSON integers or
        decimal or ``0x``-hex strings, within their width; ``bytesN`` of exactly N bytes).

        Raises:
            ValueError: naming the field (``message.<name>``) and what it accepts.
        """
        if not isinstance(message, dict):
            raise ValueError("message: expected an object")
        names = {n for n, _ in cls.FIELDS}
        for name in message:
            if name not in names:
                raise ValueError(f"message.{name}: unknown field of {cls.PRIMARY_TYPE}")
        kwargs: dict[str, Any] = {}
        for f, (n, t) in zip(fields(cls), cls.FIELDS, strict=True):
            if n not in message:
                raise ValueError(f"message.{n}: {cls.PRIMARY_TYPE} typed data lacks field {n!r}")
            try:
                kwargs[f.name] = _parse_value(t, message[n])
            except ValueError as exc:
                raise ValueError(f"message.{n}: {exc}") from None
        return cls(**kwargs)

    def sign(self, account: LocalAccount, domain: Domain) -> bytes:
        """Signs the digest with a local key; returns the 65-byte signature (r ‖ s ‖ v)."""
        return sign_digest(account, self.digest(domain))


def parse_typed_data(
    data: dict[str, Any], registry: dict[str, type[Message]]
) -> tuple[Domain, Message]:
    """Validates typed-data JSON against the known message types; returns (domain, message).

    Strict: the four top-level members and no other, the types of exactly ``EIP712Domain`` and
    the primary type, each declared as this protocol declares it, and the domain and message
    parsed field by field (see :meth:`Domain.from_json` and :meth:`Message.from_message_json`).

    Raises:
        SignatureError: naming the member or field that is wrong.
    """
    if not isinstance(data, dict):
        raise SignatureError("typed data: expected an object")
    for member in data:
        if member not in ("types", "primaryType", "domain", "message"):
            raise SignatureError(f"{member}: unknown member of typed data")
    primary = data.get("primaryType")
    if not isinstance(primary, str) or primary not in registry:
        raise SignatureError(
            f"unknown or missing primaryType in typed data: {primary!r} is not one of "
            f"{sorted(registry)}"
        )
    message_type = registry[primary]
    types = data.get("types")
    if not isinstance(types, dict):
        raise SignatureError("types: expected an object")
    for name in types:
        if name not in ("EIP712Domain", primary):
            raise SignatureError(f"types.{name}: not a type of {primary} typed data")
    for name, expected in (("EIP712Domain", _DOMAIN_TYPE), (primary, message_type.typed_fields())):
        declared = types.get(name)
        if declared is None:
            raise SignatureError(f"types.{name}: missing")
        if not isinstance(declared, list) or [_field(f) for f in declared] != [
            (f["name"], f["type"]) for f in expected
        ]:
            raise SignatureError(
                f"types.{name}: typed data declares {name} differently from this protocol"
            )
    for member in ("domain", "message"):
        if member not in data:
            raise SignatureError(f"malformed {primary} typed data: {member}: missing")
    try:
        return Domain.from_json(data["domain"]), message_type.from_message_json(data["message"])
    except ValueError as exc:
        raise SignatureError(f"malformed {primary} typed data: {exc}") from None


def _field(declared: object) -> tuple[object, object] | None:
    if not isinstance(declared, dict) or set(declared) != {"name", "type"}:
        return None
    return declared["name"], declared["type"]
