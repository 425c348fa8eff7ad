"""The capability document: schema, RFC 8785 bytes, hash and the facets schedulers filter on."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from depin.capabilities import (
    SCHEMA,
    CapabilityDocument,
    canonical_bytes,
    document_hash,
    gpu_facets,
    version_key,
)
from depin.crypto import keccak

KEY_A = "0x" + "aa" * 32
KEY_B = "0x" + "bb" * 32


def make_document(**host: Any) -> dict[str, Any]:
    gpu = {
        "slot": "0000:18:00.0",
        "gpu_key": KEY_A,
        "vendor": "nvidia",
        "model": "nvidia-h100-sxm5-80gb",
        "memory_bytes": 85520809984,
        "driver_version": "550.54.15",
        "cuda_version": "12.4",
        "compute_capability": "9.0",
        "pcie": {"generation": 5, "width": 16},
        "links": {"kind": "nvlink", "links": 18, "active_links": 18, "version": 4},
        "mig_enabled": False,
        "power_limit_watts": 700,
    }
    second = dict(gpu, slot="0000:2a:00.0", gpu_key=KEY_B)
    return {
        "schema": SCHEMA,
        "host": {"cpu_cores": 112, "ram_gib": 2015, "container_runtimes": ["docker"], **host},
        "gpus": [gpu, second],
    }


def test_the_hash_is_keccak_of_the_rfc8785_bytes_whatever_the_key_order() -> None:
    doc = CapabilityDocument.model_validate(make_document())
    raw = canonical_bytes(doc)
    assert raw.startswith(b'{"gpus":[{"architecture":null,')  # keys sorted, no spaces
    assert b" " not in raw
    assert document_hash(doc) == keccak(raw)
    reordered = dict(reversed(list(make_document().items())))
    assert document_hash(CapabilityDocument.model_validate(reordered)) == document_hash(doc)


def test_a_changed_value_changes_the_hash() -> None:
    doc = CapabilityDocument.model_validate(make_document())
    other = CapabilityDocument.model_validate(make_document(ram_gib=2014))
    assert document_hash(doc) != document_hash(other)


def test_canonical_bytes_follow_rfc8785_for_numbers_and_strings() -> None:
    # RFC 8785 section 3.2.2: strings escape only what JSON requires, non-ASCII stays UTF-8.
    doc = CapabilityDocument.model_validate(make_document(os="Ubuntu \u20ac\n24.04"))
    assert b'"os":"Ubuntu \xe2\x82\xac\\n24.04"' in canonical_bytes(doc)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"extra": 1}, "Extra inputs are not permitted"),
        ({"schema": "depin.capabilities/2"}, "depin.capabilities/1"),
        ({"gpus": []}, "at least 1 item"),
    ],
)
def test_a_document_outside_the_schema_is_refused(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        CapabilityDocument.model_validate({**make_document(), **change})


def test_gpus_out_of_slot_order_or_twice_are_refused() -> None:
    data = make_document()
    data["gpus"].reverse()
    with pytest.raises(ValidationError, match="ascending order"):
        CapabilityDocument.model_validate(data)
    data["gpus"][0]["gpu_key"] = KEY_A
    data["gpus"].reverse()
    with pytest.raises(ValidationError, match="each gpu_key once"):
        CapabilityDocument.model_validate(data)


def test_an_integer_past_the_json_safe_range_is_refused_by_the_schema() -> None:
    data = make_document()
    data["gpus"][0]["memory_bytes"] = 2**53  # RFC 8785 cannot write it exactly
    with pytest.raises(ValidationError, match="less than or equal to 9007199254740991"):
        CapabilityDocument.model_validate(data)
    data["gpus"][0]["memory_bytes"] = 2**53 - 1
    assert canonical_bytes(CapabilityDocument.model_validate(data))


def test_numbers_are_not_coerced() -> None:
    data = make_document()
    data["gpus"][0]["memory_bytes"] = "85520809984"
    with pytest.raises(ValidationError, match="valid integer"):
        CapabilityDocument.model_validate(data)
    data = make_document()
    data["gpus"][0]["power_limit_watts"] = 700.5
    with pytest.raises(ValidationError, match="valid integer"):
        CapabilityDocument.model_validate(data)


def test_runtimes_must_be_sorted_and_known() -> None:
    with pytest.raises(ValidationError, match="ascending order"):
        CapabilityDocument.model_validate(make_document(container_runtimes=["podman", "docker"]))
    with pytest.raises(ValidationError, match="'docker', 'nvidia-container-toolkit'"):
        CapabilityDocument.model_validate(make_document(container_runtimes=["lxc"]))


@pytest.mark.parametrize(
    ("low", "high"),
    [("535.104", "550.54"), ("12.9", "12.10"), ("535.104", "535.104.05"), ("9.0", "10.0")],
)
def test_version_keys_sort_numerically(low: str, high: str) -> None:
    low_key, high_key = version_key(low), version_key(high)
    assert low_key is not None and high_key is not None
    assert low_key < high_key


@pytest.mark.parametrize("text", ["I915_23.10.54", "", "1.2.3.4.5", "123456789.0", "v12"])
def test_a_version_that_is_not_dotted_numbers_has_no_key(text: str) -> None:
    assert version_key(text) is None


@given(
    st.lists(st.integers(0, 10**8 - 1), min_size=1, max_size=4),
    st.lists(st.integers(0, 10**8 - 1), min_size=1, max_size=4),
)
def test_version_key_order_is_numeric_order(a: list[int], b: list[int]) -> None:
    key_a = version_key(".".join(map(str, a)))
    key_b = version_key(".".join(map(str, b)))
    assert key_a is not None and key_b is not None
    assert (key_a < key_b) == (a < b)


def test_facets_flatten_each_gpu_with_its_host() -> None:
    doc = CapabilityDocument.model_validate(make_document())
    facets = gpu_facets(doc)
    assert [f.gpu_key for f in facets] == [bytes.fromhex("aa" * 32), bytes.fromhex("bb" * 32)]
    first = facets[0]
    assert first.driver_key == "00000550.00000054.00000015"
    assert first.cuda_key == "00000012.00000004"
    assert first.compute_capability_key == "00000009.00000000"
    assert first.rocm_key is None
    assert first.interconnect == "nvlink"
    assert first.mig is False and first.pcie_gen == 5
    assert (first.host_cpu_cores, first.host_ram_gib, first.host_disk_gib) == (112, 2015, None)
    assert (first.runtime_docker, first.runtime_podman, first.runtime_nvidia) == (
        True,
        False,
        False,
    )
    assert first.gpus_per_host == 2


def test_a_gpu_without_active_links_is_on_pcie() -> None:
    data = make_document()
    data["gpus"][0]["links"] = {"kind": "nvlink", "links": 18, "active_links": 0}
    del data["gpus"][1]["links"]
    facets = gpu_facets(CapabilityDocument.model_validate(data))
    assert [f.interconnect for f in facets] == ["pcie", "pcie"]
