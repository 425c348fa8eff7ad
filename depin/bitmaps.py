"""Liveness bitmaps as Python integers, so that a whole epoch (tens of thousands of GPUs) is
merged, compared and checked with a few big-integer operations instead of a loop per GPU.

On the wire and on-chain a bitmap keeps bit i in byte i/8 under mask ``0x80 >> i%8``, trailing
zero bytes left out (:func:`depin.attestation.bitmap_from_indices`). As an integer here, bit i
is GPU index i.
"""

from __future__ import annotations

# Each byte with its bits in reverse order: the wire's most-significant-first bits become the
# least-significant-first order of a little-endian integer.
_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def to_int(bitmap: bytes) -> int:
    """The integer whose bit i is GPU index i of ``bitmap``."""
    return int.from_bytes(bitmap.translate(_REVERSED), "little")


def to_bitmap(bits: int) -> bytes:
    """The wire bitmap of ``bits`` (no trailing zero bytes)."""
    if bits < 0:
        raise ValueError("a bitmap has no negative bits")
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little").translate(_REVERSED)


def lowest(bits: int) -> int:
    """The lowest index set in ``bits`` (which must not be 0)."""
    return (bits & -bits).bit_length() - 1


def indices(bits: int) -> list[int]:
    """The indexes set in ``bits``, ascending."""
    found = []
    raw = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    for at, byte in enumerate(raw):
        if byte:
            base = at * 8
            found += [base + k for k in range(8) if byte >> k & 1]
    return found


def set_bit(array: bytearray, index: int) -> None:
    """Sets bit ``index`` of a little-endian bit array, growing it as needed (O(1) amortized;
    ``int.from_bytes(array, "little")`` is then the integer)."""
    at = index >> 3
    if at >= len(array):
        array.extend(bytes(at + 1 - len(array)))
    array[at] |= 1 << (index & 7)


__all__ = ["indices", "lowest", "set_bit", "to_bitmap", "to_int"]
