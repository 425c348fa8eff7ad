"""An epoch checked as integers says what the per-GPU definitions say: the bitmaps, the
justification of a record (the same first unjustified GPU and reason) and the heartbeats behind
a peer's differing view, over generated epochs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depin import bitmaps
from depin.attestation import (
    GpuStatus,
    Liveness,
    bitmap_from_indices,
    indices_from_bitmap,
)
from oracle.errors import UnjustifiedLiveness
from oracle.heartbeats import EpochView
from oracle.liveness import LivenessService

GPUS = 40
statuses = st.integers(0, 3)
heartbeats = st.lists(
    st.lists(st.tuples(st.integers(0, GPUS - 1), statuses), min_size=1, max_size=6),
    max_size=12,
)
records = st.dictionaries(st.integers(0, GPUS + 3), statuses, max_size=GPUS)


def _view(said: list[list[tuple[int, int]]]) -> EpochView:
    view = EpochView()
    for n, entries in enumerate(said):
        view.add(n.to_bytes(32, "big"), entries)
    return view


def _record(statuses: dict[int, int], extra: list[int], which: str) -> Liveness:
    """A record of ``statuses``, with ``extra`` indexes set in ``which`` bitmap only (bits a
    record may carry outside its online set)."""
    liveness = Liveness.from_statuses({i: GpuStatus(s) for i, s in statuses.items()})
    if not extra:
        return liveness
    parts = dict(zip(("online", "available", "healthy"), liveness.as_tuple(), strict=True))
    bits = set(indices_from_bitmap(parts[which])) | set(extra)
    parts[which] = bitmap_from_indices(bits, max(bits) + 1)
    return Liveness(**parts)


def _reference_justify(epoch: int, liveness: Liveness, view: EpochView) -> None:
    """The definition, GPU by GPU."""
    statuses = liveness.statuses()
    for name, bitmap in (("available", liveness.available), ("healthy", liveness.healthy)):
        for index in indices_from_bitmap(bitmap):
            if index not in statuses:
                raise UnjustifiedLiveness(epoch, index, f"{name} (offline GPU)")
    for index, status in sorted(statuses.items()):
        if index not in view.said:
            raise UnjustifiedLiveness(epoch, index, "online")
        if not view.justifies(index, status):
            raise UnjustifiedLiveness(epoch, index, f"status {int(status)}")


def _outcome(check: Any, *args: Any) -> str | None:
    try:
        check(*args)
    except UnjustifiedLiveness as exc:
        return exc.detail
    return None


@given(st.sets(st.integers(0, 300), max_size=60))
def test_a_bitmap_as_an_integer_holds_the_same_indexes(indexes: set[int]) -> None:
    count = max(indexes, default=-1) + 1
    wire = bitmap_from_indices(indexes, count) if indexes else b""
    bits = bitmaps.to_int(wire)
    assert bitmaps.indices(bits) == sorted(indexes) == indices_from_bitmap(wire)
    assert bitmaps.to_bitmap(bits) == wire
    if indexes:
        assert bitmaps.lowest(bits) == min(indexes)


@given(heartbeats)
def test_the_views_bitmaps_are_those_of_its_statuses(said: list[list[tuple[int, int]]]) -> None:
    view = _view(said)
    assert view.liveness() == Liveness.from_statuses(view.statuses())
    snapshot = view.copy()
    view.add(b"later".ljust(32, b"\0"), [(GPUS - 1, 0), (0, 3)])
    assert snapshot.liveness() == Liveness.from_statuses(snapshot.statuses())


@settings(max_examples=300)
@given(
    heartbeats,
    records,
    st.lists(st.integers(0, GPUS + 3), max_size=3),
    st.sampled_from(["available", "healthy"]),
)
def test_a_record_is_justified_exactly_when_each_gpu_is(
    said: list[list[tuple[int, int]]], record: dict[int, int], extra: list[int], which: str
) -> None:
    view = _view(said)
    liveness = _record(record, extra, which)
    expected = _outcome(_reference_justify, 7, liveness, view)
    assert _outcome(LivenessService.justify, 7, liveness, view) == expected


def test_the_views_own_record_is_justified_and_a_changed_bit_is_named() -> None:
    view = _view([[(0, 3), (2, 1)], [(5, 2)]])
    LivenessService.justify(1, view.liveness(), view)  # its own record passes
    busy = Liveness.from_statuses({0: GpuStatus.HEALTHY, 2: GpuStatus.AVAILABLE, 5: 2})
    with pytest.raises(UnjustifiedLiveness) as raised:
        LivenessService.justify(1, busy, view)
    assert (raised.value.index, raised.value.bit) == (0, "status 2")


class _Book:
    """Just enough of a heartbeat book: the bodies asked for are the digests themselves."""

    def bodies(self, epoch: int, digests: Any) -> list[bytes]:
        return sorted(digests)


@given(heartbeats, st.one_of(st.none(), records))
def test_the_heartbeats_behind_a_differing_view_are_those_of_the_gpus_that_differ(
    said: list[list[tuple[int, int]]], theirs: dict[int, int] | None
) -> None:
    view = _view(said)
    their = None if theirs is None else Liveness.from_statuses(theirs)  # type: ignore[arg-type]
    service = LivenessService.__new__(LivenessService)
    service.book = _Book()  # type: ignore[assignment]
    expected: set[bytes] = set()
    for index, status in view.statuses().items():
        if theirs is None or theirs.get(index) != status:
            expected |= view.justifying(index, status)
    assert service.behind(3, view, their) == sorted(expected)
