"""Hashing, signing and address primitives, written once for every role.

- :func:`keccak`: keccak256, with safe-pysha3's C implementation when it is installed.
- :func:`sign_digest` / :class:`DigestSigner`: a 65-byte ``r ‖ s ‖ v`` signature (``v`` in
  {27, 28}) of a 32-byte digest, made with coincurve (libsecp256k1; low ``s``, RFC 6979).
- :func:`recover` / :func:`recover_bytes`: who signed a digest, refusing malformed, malleable
  (high ``s``) and unrecoverable signatures with :class:`~depin.errors.SignatureError`.
- :func:`checksum_address`: EIP-55, computed with byte-wide masks and cached (addresses repeat).
- :func:`hex_bytes`, :func:`to_hex`, :func:`is_bytes32`: ``0x``-hex to bytes and back.
"""

from __future__ import annotations

from functools import lru_cache

import coincurve
from eth_account.signers.local import LocalAccount
from eth_utils import keccak as _eth_keccak
from eth_utils import to_checksum_address

from depin.errors import SignatureError

__all__ = [
    "SECP256K1_N",
    "DigestSigner",
    "checksum_address",
    "hex_bytes",
    "is_bytes32",
    "keccak",
    "recover",
    "recover_bytes",
    "same_address",
    "sign_digest",
    "to_hex",
]

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The order of the secp256k1 group; a signature's ``s`` must be at most half of it."""

try:  # safe-pysha3's C keccak is several times faster per call than eth-hash's wrapper
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        """keccak256 of ``data``."""
        return bytes(_keccak_256(data).digest())

    def _hex_keccak(data: bytes) -> bytes:
        return bytes(_keccak_256(data).hexdigest(), "ascii")

except ImportError:  # pragma: no cover - eth-hash's backend

    def keccak(data: bytes) -> bytes:
        """keccak256 of ``data``."""
        return bytes(_eth_keccak(data))

    def _hex_keccak(data: bytes) -> bytes:
        return _eth_keccak(data).hex().encode()


# ---------------------------------------------------------------------- hex


def hex_bytes(value: object, size: int | None = None) -> bytes:
    """Bytes from ``0x``-hex (the prefix is optional) or from bytes, of ``size`` bytes if given.

    Raises:
        ValueError: not hex, not a string or bytes, or not ``size`` bytes long.
    """
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str):
        raw = bytes.fromhex(value[2:] if value.startswith(("0x", "0X")) else value)
    else:
        raise ValueError("expected a 0x-prefixed hex string")
    if size is not None and len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    return raw


def to_hex(raw: bytes) -> str:
    """``0x``-hex of ``raw`` (lower case)."""
    return "0x" + raw.hex()


def is_bytes32(raw: object) -> bool:
    """Whether ``raw`` is a bytes value of exactly 32 bytes."""
    return isinstance(raw, bytes) and len(raw) == 32


# ---------------------------------------------------------------------- addresses

_HEX_DIGITS = b"0123456789abcdef"
_HIGH_TABLE = bytes(0x20 if chr(i) in "89abcdef" else 0 for i in range(256))
_LETTER_TABLE = bytes(0x20 if chr(i) in "abcdef" else 0 for i in range(256))


def _high_nibbles(hex_digits: bytes) -> int:
    return int.from_bytes(hex_digits.translate(_HIGH_TABLE), "big")


def _letters(hex_digits: bytes) -> int:
    return int.from_bytes(hex_digits.translate(_LETTER_TABLE), "big")


@lru_cache(maxsize=65_536)
def checksum_address(address: str | bytes) -> str:
    """The EIP-55 form of a ``0x`` address (any case) or of its 20 bytes.

    Raises:
        ValueError: not an address (eth-utils' refusal).
    """
    if isinstance(address, bytes):
        if len(address) != 20:
            return str(to_checksum_address(address))  # let eth-utils refuse it
        raw = address.hex().encode()
    else:
        raw = address[2:].lower().encode() if address[:2] in ("0x", "0X") else b""
        if len(raw) != 40 or raw.translate(None, _HEX_DIGITS):
            return str(to_checksum_address(address))  # let eth-utils refuse (or accept) it
    # EIP-55: upper-case the letters whose hash nibble is >= 8, with byte-wide masks (C speed)
    upper = _high_nibbles(_hex_keccak(raw)[:40]) & _letters(raw)
    return "0x" + (int.from_bytes(raw, "big") ^ upper).to_bytes(40, "big").decode()


def same_address(address: str, raw: bytes) -> bool:
    """Whether hex ``address`` (any case) is the 20 bytes ``raw``."""
    return len(address) == 42 and bytes.fromhex(address[2:]) == raw


# ---------------------------------------------------------------------- signatures


class DigestSigner:
    """Signs digests with one key, its libsecp256k1 context made once (for hot paths)."""

    def __init__(self, key: LocalAccount | bytes) -> None:
        self._key = coincurve.PrivateKey(key if isinstance(key, bytes) else bytes(key.key))

    def sign(self, digest: bytes) -> bytes:
        """A 65-byte (r ‖ s ‖ v, v in {27, 28}) signature of ``digest``."""
        raw = self._key.sign_recoverable(digest, hasher=None)
        return raw[:64] + bytes([raw[64] + 27])


def sign_digest(account: LocalAccount | bytes, digest: bytes) -> bytes:
    """A 65-byte (r ‖ s ‖ v, v in {27, 28}) signature of ``digest``, made with coincurve."""
    return DigestSigner(account).sign(digest)


def recover_bytes(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address that signed ``digest`` (see :func:`recover`)."""
    if len(signature) != 65:
        raise SignatureError(f"a signature has 65 bytes, got {len(signature)}")
    if int.from_bytes(signature[32:64], "big") > SECP256K1_N // 2:
        raise SignatureError("signature s is in the upper half of the curve order")
    v = signature[64]
    parity = v - 27 if v >= 27 else v
    if parity not in (0, 1):
        raise SignatureError(f"bad recovery id {v}")
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([parity]), digest, hasher=None
        )
    except Exception as exc:
        raise SignatureError(f"signature does not recover: {exc}") from exc
    return keccak(public.format(compressed=False)[1:])[-20:]


def recover(digest: bytes, signature: bytes) -> str:
    """The checksummed address whose key made the 65-byte ``signature`` over ``digest``.

    Raises:
        SignatureError: the signature is malformed, malleable (high s) or not recoverable.
    """
    return checksum_address(recover_bytes(digest, signature))
