"""Change detection between inventories of recorded hosts, and the watcher loop."""

from __future__ import annotations

import threading
from typing import Any

from replayed import host, load_recording, mutate

from agent.discovery import Inventory
from agent.discovery.recording import nvml_replay
from agent.watch import ChangeEvent, NvmlEventWaiter, SleepWaiter, Watcher, diff, make_waiter


def h100s(data: dict[str, Any] | None = None) -> Inventory:
    return host(nvml_rec=data or load_recording("nvml_8x_h100_sxm"))


def test_same_host_twice_is_no_change() -> None:
    assert diff(h100s(), h100s()) == []


def test_gpu_removed_and_added() -> None:
    fewer = mutate(load_recording("nvml_8x_h100_sxm"), "nvmlDeviceGetCount", [], ret=7)
    removed = diff(h100s(), h100s(fewer))
    assert [(e.kind, e.slot) for e in removed] == [("gpu_removed", "0000:db:00.0")]
    assert removed[0].old is not None and removed[0].new is None
    assert removed[0].uuid == "GPU-5b3a0007-1c2d-4e5f-8a9b-0c1d2e3f0007"
    added = diff(h100s(fewer), h100s())
    assert [(e.kind, e.slot) for e in added] == [("gpu_added", "0000:db:00.0")]
    assert added[0].detail == "NVIDIA H100 80GB HBM3 appeared in 0000:db:00.0"


def test_gpu_replaced_in_the_same_slot() -> None:
    new_board = "GPU-ffffffff-1c2d-4e5f-8a9b-0c1d2e3f0003"
    swapped = mutate(
        load_recording("nvml_8x_h100_sxm"),
        "nvmlDeviceGetUUID",
        [{"$handle": "gpu3"}],
        ret=new_board,
    )
    (event,) = diff(h100s(), h100s(swapped))
    assert event.kind == "gpu_replaced" and event.slot == "0000:5d:00.0"
    assert event.uuid == new_board
    assert event.old is not None and event.old.uuid == "GPU-5b3a0003-1c2d-4e5f-8a9b-0c1d2e3f0003"


def test_mig_toggle() -> None:
    mig = host(nvml_rec="nvml_2x_h100_mig")
    fewer = mutate(load_recording("nvml_8x_h100_sxm"), "nvmlDeviceGetCount", [], ret=2)
    events = diff(h100s(fewer), mig)
    assert [(e.kind, e.slot) for e in events] == [
        ("mig_changed", "0000:18:00.0"),
        ("mig_changed", "0000:2a:00.0"),
    ]
    assert events[0].detail == "MIG off (0 instances) -> on (7 instances)"
    assert [e.kind for e in diff(mig, h100s(fewer))] == ["mig_changed", "mig_changed"]


def test_driver_change() -> None:
    upgraded = mutate(
        load_recording("nvml_8x_h100_sxm"), "nvmlSystemGetDriverVersion", [], ret="560.35.03"
    )
    events = diff(h100s(), h100s(upgraded))
    assert {e.kind for e in events} == {"driver_changed"} and len(events) == 8
    assert events[0].detail == "driver 550.54.15 -> 560.35.03"


def test_memory_change() -> None:
    data = load_recording("nvml_8x_h100_sxm")
    mem = next(c for c in data["calls"] if c["fn"] == "nvmlDeviceGetMemoryInfo")["ret"]
    smaller = {"$struct": mem["$struct"], "fields": {**mem["fields"], "total": 80 * 1024 << 20}}
    changed = mutate(data, "nvmlDeviceGetMemoryInfo", [{"$handle": "gpu0"}], ret=smaller)
    (event,) = diff(h100s(), h100s(changed))
    assert event.kind == "memory_changed" and event.slot == "0000:18:00.0"


def test_library_loss_is_a_status_change(make_sysfs: Any) -> None:
    root = make_sysfs(
        {"bdf": "0000:18:00.0", "class": "0x030200", "vendor": "0x10de", "device": "0x2330"}
    )
    before = host(nvml_rec=load_recording("nvml_8x_h100_sxm"), sysfs_root=root)
    after = host(nvml_rec="nvml_library_missing", sysfs_root=root)
    events = diff(before, after)
    kinds = {(e.kind, e.slot) for e in events}
    assert ("status_changed", "0000:18:00.0") in kinds
    assert sum(e.kind == "gpu_removed" for e in events) == 7


def test_watcher_yields_changes_in_order_and_calls_subscribers() -> None:
    fewer = mutate(load_recording("nvml_8x_h100_sxm"), "nvmlDeviceGetCount", [], ret=7)
    states = iter([h100s(), h100s(), h100s(fewer), h100s()])
    watcher = Watcher(lambda: next(states), interval_s=0, waiter=SleepWaiter())
    seen: list[ChangeEvent] = []
    unsubscribe = watcher.subscribe(seen.append)
    watcher.run(max_polls=3)
    assert [e.kind for e in seen] == ["gpu_removed", "gpu_added"]
    unsubscribe()
    assert watcher._callbacks == []


def test_watcher_stops_when_told() -> None:
    stop = threading.Event()
    calls = 0

    def collect() -> Inventory:
        nonlocal calls
        calls += 1
        if calls == 3:
            stop.set()
        return h100s()

    watcher = Watcher(collect, interval_s=0, waiter=SleepWaiter(stop), stop=stop)
    assert list(watcher.events()) == []
    assert calls == 3


def test_nvml_events_wake_the_watcher_with_an_xid() -> None:
    waiter = NvmlEventWaiter(nvml_replay(load_recording("nvml_events_xid79"))).open()
    (event,) = waiter.wait(1.0)
    assert event.kind == "xid_error" and event.xid == 79
    assert event.uuid == "GPU-5b3a0000-1c2d-4e5f-8a9b-0c1d2e3f0000"
    assert event.needs_reattestation
    assert waiter.wait(0) == []  # NVML_ERROR_TIMEOUT: nothing happened
    waiter.close()


def test_xid_events_reach_subscribers_before_the_diff() -> None:
    waiter = NvmlEventWaiter(nvml_replay(load_recording("nvml_events_xid79"))).open()
    watcher = Watcher(h100s, interval_s=1.0, waiter=waiter)
    events = list(watcher.events(max_polls=1))
    assert [e.kind for e in events] == ["xid_error"]


def test_polling_when_nvml_has_no_events() -> None:
    waiter = make_waiter(nvml=nvml_replay(load_recording("nvml_library_missing")))
    assert isinstance(waiter, SleepWaiter)
