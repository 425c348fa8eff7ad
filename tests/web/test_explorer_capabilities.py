"""The explorer's capability filters and a GPU's capabilities panel, in Chromium over the real
stack: hosts attest with a capability document's hash, the document is put to the API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_helpers import H100, L4, Stack

from depin.attestation import gpu_key
from depin.capabilities import (
    CapabilityDocument,
    GpuCapabilities,
    HostCapabilities,
    NvlinkCapabilities,
    PcieCapabilities,
    document_hash,
)
from depin.crypto import to_hex

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def _host_document(key: bytes, spec: tuple[Any, ...], **gpu: Any) -> CapabilityDocument:
    vendor, _, model, memory, _ = spec
    return CapabilityDocument(
        host=HostCapabilities(
            cpu_model="AMD EPYC 9654 96-Core Processor",
            cpu_cores=192,
            ram_gib=1500,
            disk_free_gib=3500,
            os="Ubuntu 24.04.1 LTS",
            kernel="6.8.0-45-generic",
            container_runtimes=["docker", "nvidia-container-toolkit"],
        ),
        gpus=[
            GpuCapabilities(
                slot="0000:18:00.0",
                gpu_key=to_hex(key),
                vendor=vendor,
                model=model,
                memory_bytes=memory,
                **gpu,
            )
        ],
    )


def test_filtering_by_cuda_and_opening_a_gpus_capabilities(
    stack: Stack, page: Any, tmp_path: Path
) -> None:
    uuids = [f"GPU-{os.urandom(16).hex()}" for _ in range(2)]
    newer = _host_document(
        gpu_key("nvidia", uuids[0]),
        H100,
        driver_version="560.35.03",
        cuda_version="12.10",
        compute_capability="9.0",
        pcie=PcieCapabilities(generation=5, width=16),
        links=NvlinkCapabilities(kind="nvlink", links=18, active_links=18, version=4),
        mig_enabled=False,
        ecc_enabled=True,
        power_limit_watts=700,
    )
    older = _host_document(
        gpu_key("nvidia", uuids[1]),
        L4,
        driver_version="550.54.15",
        cuda_version="12.4",
        compute_capability="8.9",
        pcie=PcieCapabilities(generation=4, width=16),
    )
    acme, boreal = stack.providers["acme"], stack.providers["boreal"]
    (described,) = stack.attest(
        acme, stack.agents["acme"], [H100], uuids=uuids[:1], capabilities=document_hash(newer)
    )
    stack.attest(
        boreal, stack.agents["boreal"], [L4], uuids=uuids[1:], capabilities=document_hash(older)
    )
    stack.sync()
    for document in (newer, older):
        key = to_hex(document_hash(document))
        put = httpx.put(f"{stack.url}/v1/capabilities/{key}", json=document.as_json())
        assert put.status_code == 201, put.text

    page.goto(stack.url + "/")
    rows = page.locator("#gpus tbody tr[data-gpu]")
    page.locator("#count", has_text="6 GPUs match").wait_for()

    # CUDA 12.10 is newer than 12.5, 12.4 is not: one GPU, and the filter is in the address.
    page.get_by_label("Min CUDA").fill("12.5")
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#count", has_text="1 GPU match").wait_for()
    assert rows.first.get_attribute("data-gpu") == described.key
    assert "min_cuda=12.5" in page.url
    page.get_by_label("Min CUDA").fill("12.4")
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#count", has_text="2 GPUs match").wait_for()

    # A version that is not one is refused by the form before anything is asked.
    page.get_by_label("Min CUDA").fill("twelve")
    page.get_by_role("button", name="Apply filters").click()
    assert "min_cuda=12.4" in page.url

    # The GPU's page shows what its host's document says.
    page.goto(stack.url + "/#/?min_cuda=12.5&interconnect=nvlink")
    page.locator("#count", has_text="1 GPU match").wait_for()
    page.locator(f'#gpus tr[data-gpu="{described.key}"] a.gpu-link').click()
    panel = page.locator("#capabilities")
    panel.get_by_text("12.10", exact=True).wait_for()
    text = panel.inner_text()
    for words in (
        "560.35.03",
        "Gen 5 x16",
        "NVLink 4, 18 of 18 links active",
        "AMD EPYC 9654 96-Core Processor, 192 cores",
        "1,500 GiB",
        "Ubuntu 24.04.1 LTS (kernel 6.8.0-45-generic)",
        "docker, nvidia-container-toolkit",
    ):
        assert words in text, (words, text)
    page.screenshot(path=str(tmp_path / "capabilities.png"), full_page=True)

    # A GPU attested without a document says so.
    plain = next(g for g in stack.gpus if g.model == L4[2])
    page.goto(stack.url + f"/#/gpu/{plain.key}")
    page.locator("#capabilities", has_text="names no capability document").wait_for()
