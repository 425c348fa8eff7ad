"""The recorder writes what a real library answered in the form the replay reads back."""

from __future__ import annotations

import ctypes
import importlib.util
import json
from pathlib import Path
from typing import Any

import pynvml
import pytest
from replayed import load_recording

from agent.discovery import NvmlBackend
from agent.discovery.record import record
from agent.discovery.recording import Recorder, ReplayModule, nvml_replay
from agent.errors import RecordingError


def _code(exc: BaseException) -> Any:
    return getattr(exc, "value", None)


def test_recording_a_session_replays_to_the_same_inventory(tmp_path: Path) -> None:
    original = load_recording("nvml_8x_h100_sxm")
    recorder = Recorder(nvml_replay(original), source="re-recorded", error_code=_code)
    first = NvmlBackend(recorder).run()
    path = tmp_path / "again.json"
    recorder.dump(path)
    again = json.loads(path.read_text())
    assert again["source"] == "re-recorded"
    second = NvmlBackend(nvml_replay(again)).run()
    assert second.gpus == first.gpus and len(second.gpus) == 8
    errors = [c for c in again["calls"] if "error" in c]
    assert {c["fn"] for c in errors} == {"nvmlDeviceGetNvLinkState"}  # past the 18th link


def test_ctypes_answers_are_encoded() -> None:
    """NVML's real return types: structures with byte strings, and opaque device pointers."""
    info = pynvml.nvmlPciInfo_t()
    info.busId = b"00000000:18:00.0"
    info.pciDeviceId = 0x233010DE
    handle = ctypes.cast(ctypes.c_void_p(0x5000), pynvml.c_nvmlDevice_t)
    answers = {"nvmlDeviceGetHandleByIndex": handle, "nvmlDeviceGetPciInfo_v3": info}

    class Library:  # the two functions, answering with real pynvml ctypes values
        NVMLError = pynvml.NVMLError

        def __getattr__(self, name: str) -> Any:
            return lambda *args: answers[name]

    recorder = Recorder(Library(), source="ctypes", error_code=_code)
    h = recorder.nvmlDeviceGetHandleByIndex(0)
    recorder.nvmlDeviceGetPciInfo_v3(h)
    calls = recorder.recording()["calls"]
    assert calls[0] == {"fn": "nvmlDeviceGetHandleByIndex", "args": [0], "ret": {"$handle": "h0"}}
    assert calls[1]["args"] == [{"$handle": "h0"}]
    fields = calls[1]["ret"]["fields"]
    # pynvml's structures hand out char arrays as str; raw ctypes ones give bytes
    assert fields["busId"] in ("00000000:18:00.0", {"$bytes": "00000000:18:00.0"})
    assert fields["pciDeviceId"] == 0x233010DE
    replayed = ReplayModule(recorder.recording())
    pci = replayed.nvmlDeviceGetPciInfo_v3(replayed.nvmlDeviceGetHandleByIndex(0))
    assert pci.busId == info.busId
    assert NvmlBackend._pci(pci).bus_id == "0000:18:00.0"


def test_recorded_errors_are_raised_as_the_library_would() -> None:
    module = nvml_replay(load_recording("nvml_1x_rtx4090"))
    with pytest.raises(pynvml.NVMLError_NotSupported):
        module.nvmlDeviceGetSerial(module.nvmlDeviceGetHandleByIndex(0))


def test_an_unrecorded_call_is_named() -> None:
    module = nvml_replay(load_recording("nvml_1x_rtx4090"))
    with pytest.raises(RecordingError, match=r"no answer for nvmlDeviceGetHandleByIndex\(5,\)"):
        module.nvmlDeviceGetHandleByIndex(5)


def test_every_fixture_names_its_source() -> None:
    from replayed import FIXTURES

    for path in FIXTURES.glob("*.json"):
        data = json.loads(path.read_text())
        assert len(data["source"]) > 20, path.name
        assert data["library"] in {"pynvml", "amdsmi", "xpu-smi"}, path.name
        assert data["calls"], path.name


def test_recording_this_host_replays_to_the_same_report() -> None:
    """Here NVML is absent (the recording holds the init error); on a GPU host, a full session."""
    data, _ = record("nvml", source="test run")
    assert data["library"] == "pynvml" and data["calls"][0]["fn"] == "nvmlInit"
    live = NvmlBackend().run()
    replayed = NvmlBackend(nvml_replay(data)).run()
    assert replayed.report == live.report
    assert replayed.gpus == live.gpus


def test_recording_a_library_that_is_not_installed_says_so() -> None:
    if importlib.util.find_spec("amdsmi") is not None:  # pragma: no cover - a ROCm host
        pytest.skip("amdsmi is importable here")
    with pytest.raises(RecordingError, match="cannot record amdsmi: amdsmi is not importable"):
        record("amdsmi", source="x")
    with pytest.raises(RecordingError, match="unknown library 'cuda'; use nvml or amdsmi"):
        record("cuda", source="x")
