"""The shared GPU spec table: every entry well formed, real ids mapped to the right model."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources

import pytest
from pydantic import ValidationError

from depin.attestation import model_bytes, model_text
from depin.specs import PCI_VENDOR_IDS, GpuSpec, by_model_id, load_specs, lookup

GIB = 1 << 30


def test_table_has_enough_models_of_every_vendor() -> None:
    specs = load_specs()
    assert len(specs) >= 30
    per_vendor = Counter(s.vendor for s in specs)
    assert per_vendor["nvidia"] >= 15 and per_vendor["amd"] >= 5 and per_vendor["intel"] >= 4


def test_every_entry_is_well_formed() -> None:
    specs = load_specs()
    ids = [s.model_id for s in specs]
    assert len(ids) == len(set(ids)), "model ids are unique"
    pairs: Counter[tuple[int, int, int]] = Counter()
    for s in specs:
        assert model_text(model_bytes(s.model_id)) == s.model_id  # fits a bytes32
        assert s.vendor_id == PCI_VENDOR_IDS[s.vendor], s.model_id
        assert s.memory_bytes > 0 and s.memory_bandwidth_gbps > 0
        assert s.source.name and s.source.url.startswith("https://"), s.model_id
        figures = [f for f in (s.fp32_tflops, s.fp16_tflops, s.int8_tops) if f is not None]
        assert figures and all(f > 0 for f in figures), s.model_id
        if s.fp32_tflops and s.fp16_tflops:
            assert s.fp16_tflops >= s.fp32_tflops, s.model_id
        if s.fp16_tflops and s.int8_tops:
            assert s.int8_tops >= s.fp16_tflops, s.model_id
        for device_id in s.device_ids:
            pairs[(s.vendor_id, device_id, s.memory_bytes)] += 1
    assert max(pairs.values()) == 1, "a device id is shared only by models of different memory"


def test_raw_json_keeps_ids_as_hex_strings() -> None:
    text = resources.files("depin.specs").joinpath("gpus.json").read_text()
    for entry in json.loads(text)["gpus"]:
        assert all(d.startswith("0x") for d in entry["device_ids"])


@pytest.mark.parametrize(
    ("vendor_id", "device_id", "model_id"),
    [
        (0x10DE, 0x2330, "nvidia-h100-sxm5-80gb"),
        (0x10DE, 0x2331, "nvidia-h100-pcie-80gb"),
        (0x10DE, 0x2335, "nvidia-h200-sxm-141gb"),
        (0x10DE, 0x20B0, "nvidia-a100-sxm4-40gb"),
        (0x10DE, 0x20B2, "nvidia-a100-sxm4-80gb"),
        (0x10DE, 0x20B5, "nvidia-a100-pcie-80gb"),
        (0x10DE, 0x27B8, "nvidia-l4-24gb"),
        (0x10DE, 0x26B9, "nvidia-l40s-48gb"),
        (0x10DE, 0x1EB8, "nvidia-t4-16gb"),
        (0x10DE, 0x2684, "nvidia-rtx-4090-24gb"),
        (0x1002, 0x74A1, "amd-instinct-mi300x-192gb"),
        (0x1002, 0x740C, "amd-instinct-mi250x-128gb"),
        (0x1002, 0x740F, "amd-instinct-mi210-64gb"),
        (0x8086, 0x0BD5, "intel-max-1550-128gb"),
        (0x8086, 0x0BDA, "intel-max-1100-48gb"),
        (0x8086, 0x56A0, None),  # A770 8 GB and 16 GB share the id: needs memory
    ],
)
def test_known_pci_ids(vendor_id: int, device_id: int, model_id: str | None) -> None:
    spec = lookup(vendor_id, device_id)
    assert (spec.model_id if spec else None) == model_id


def test_memory_disambiguates_a_shared_device_id() -> None:
    xtx = lookup(0x1002, 0x744C, 24 * GIB - 300 * (1 << 20))
    xt = lookup(0x1002, 0x744C, 20 * GIB - 300 * (1 << 20))
    assert xtx is not None and xtx.model_id == "amd-radeon-rx-7900-xtx-24gb"
    assert xt is not None and xt.model_id == "amd-radeon-rx-7900-xt-20gb"
    gre = lookup(0x1002, 0x744C, 16 * GIB - 300 * (1 << 20))
    assert gre is not None and gre.model_id == "amd-radeon-rx-7900-gre-16gb"
    a770 = lookup(0x8086, 0x56A0, 8 * GIB)
    assert a770 is not None and a770.model_id == "intel-arc-a770-8gb"


def test_unknown_ids_are_none_not_errors() -> None:
    assert lookup(0x10DE, 0xFFFF) is None
    assert lookup(0x1234, 0x2330) is None  # the H100's device id under another vendor


def test_by_model_id() -> None:
    h100 = by_model_id("nvidia-h100-sxm5-80gb")
    assert h100 is not None and h100.device_ids == (0x2330,)
    assert h100.fp16_tflops == pytest.approx(989.5)  # dense, not the 1979 sparse figure
    assert by_model_id("nvidia-h100-sxm5-800gb") is None


def test_a_malformed_entry_is_refused() -> None:
    entry = json.loads(by_model_id("nvidia-l4-24gb").model_dump_json())  # type: ignore[union-attr]
    entry["fp32_tflops"] = -1
    with pytest.raises(ValidationError, match="fp32_tflops"):
        GpuSpec.model_validate(entry)
    entry["fp32_tflops"] = 30.3
    entry["source"] = {"name": "", "url": "http://example"}
    with pytest.raises(ValidationError, match="source"):
        GpuSpec.model_validate(entry)
