"""The agent's health probe on recorded NVML answers (trouble injected; see the fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.discovery.recording import nvml_replay
from agent.health import NvmlHealthProbe, statuses, unchecked
from depin.attestation import ALL_WELL, GpuStatus

HEALTH = Path(__file__).parents[1] / "fixtures" / "health"


def probe(name: str, own_pids: frozenset[int] = frozenset()) -> NvmlHealthProbe:
    recording = json.loads((HEALTH / name).read_text())
    return NvmlHealthProbe(nvml_replay(recording), own_pids=own_pids).open()


def test_a_clean_host_is_available_and_healthy_everywhere() -> None:
    readings = probe("nvml_health_8x_h100_clean.json").read()
    assert len(readings) == 8
    assert all(r.status == ALL_WELL for r in readings.values())
    # gpu7 runs at its software power cap: normal under load, not trouble
    assert all(r.reasons == () for r in readings.values())


def test_each_kind_of_trouble_is_read_with_its_reason() -> None:
    readings = probe("nvml_health_8x_h100.json").read()
    ordered = sorted(readings.values(), key=lambda r: r.uuid[-4:])
    assert [(r.available, r.healthy) for r in ordered] == [
        (True, True),
        (True, False),
        (True, False),
        (True, False),
        (False, True),
        (True, False),
        (True, False),
        (True, True),
    ]
    assert [r.reasons for r in ordered] == [
        (),
        ("ecc_uncorrected:2",),
        ("xid:79",),
        ("throttle:hw_thermal_slowdown",),
        ("busy:1_processes",),
        ("row_remap_pending",),
        ("retired_pages_pending",),
        (),
    ]
    assert ordered[4].status == GpuStatus.HEALTHY
    assert ordered[1].status == GpuStatus.AVAILABLE


def test_the_agents_own_process_does_not_make_a_gpu_busy() -> None:
    readings = probe("nvml_health_8x_h100.json", own_pids=frozenset({4242})).read()
    assert all(r.available for r in readings.values())


def test_a_gpu_no_probe_sees_is_neither_available_nor_healthy() -> None:
    readings = statuses(None, ["GPU-x"])
    assert readings == {"GPU-x": unchecked("GPU-x")}
    assert readings["GPU-x"].status == GpuStatus.NONE


@pytest.mark.parametrize("name", ["nvml_library_missing.json", "nvml_driver_not_loaded.json"])
def test_a_broken_library_gives_no_reading_and_does_not_raise(name: str) -> None:
    path = HEALTH.parent / "discovery" / name
    probe = NvmlHealthProbe(nvml_replay(json.loads(path.read_text())))
    assert probe.read() == {}
