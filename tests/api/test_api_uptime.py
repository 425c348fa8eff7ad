"""The uptime matrix: numpy's columns agree with reading each bitmap bit by bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from api.inventory.uptime import Window, bits_at, decode_bitmap


def _bit(bitmap: bytes, index: int) -> bool:
    return index // 8 < len(bitmap) and bool(bitmap[index // 8] & (0x80 >> (index % 8)))


@given(
    st.lists(st.binary(max_size=6), min_size=1, max_size=6),
    st.lists(st.integers(0, 63), max_size=8),
)
def test_columns_are_the_bits_of_each_record(bitmaps: list[bytes], indexes: list[int]) -> None:
    width = max(len(b) for b in bitmaps)
    matrix = np.zeros((len(bitmaps), width), dtype=np.uint8)
    for i, b in enumerate(bitmaps):
        matrix[i, : len(b)] = decode_bitmap("0x" + b.hex())
    found = bits_at(matrix, np.asarray(indexes, dtype=np.int64))
    assert found.tolist() == [[_bit(b, i) for i in indexes] for b in bitmaps]


def test_uptime_counts_records_after_the_first_attestation_or_that_saw_the_gpu() -> None:
    # three records at blocks 10, 20, 30; GPU 0 online in all, GPU 9 in the last only
    rows = ["0x80", "0x80", "0x8040"]
    width = 2
    matrix = np.zeros((3, width), dtype=np.uint8)
    for i, r in enumerate(rows):
        bits = decode_bitmap(r)
        matrix[i, : len(bits)] = bits
    window = Window(np.asarray([10, 20, 30], dtype=np.int64), matrix)
    # GPU 9 first attested at block 25: only the last record counts for it
    assert window.uptime([0, 9, 12], [1, 25, 31]) == [1.0, 1.0, None]
    assert window.uptime([9], [1]) == [1 / 3]
    assert window.uptime([], []) == []
