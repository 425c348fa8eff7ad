"""The explorer's tools in headless Chromium over the real stack: the header's search box,
sortable column headers, copy buttons, block-explorer links and the CSV export of a filter."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_helpers import H100, L4, MI300X, Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

EXPLORER = "https://explorer.example/base"


@pytest.fixture
def no_explorer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's settings name no block explorer (the dev chain has no default)."""
    monkeypatch.delenv("DEPIN_API_BLOCK_EXPLORERS", raising=False)


@pytest.fixture
def with_explorer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's settings (read from the environment when the stack starts) name a block
    explorer for the dev chain."""
    monkeypatch.setenv("DEPIN_API_BLOCK_EXPLORERS", f'{{"31337": "{EXPLORER}/"}}')


def row_keys(page: Any) -> list[str]:
    keys: list[str] = page.locator("#gpus tbody tr[data-gpu]").evaluate_all(
        "rows => rows.map((r) => r.dataset.gpu)"
    )
    return keys


def wait_for_rows(page: Any, keys: list[str]) -> None:
    page.wait_for_function(
        """(keys) => [...document.querySelectorAll("#gpus tbody tr[data-gpu]")]
            .map((r) => r.dataset.gpu).join() === keys.join()""",
        arg=keys,
    )


def search(page: Any, q: str) -> None:
    box = page.get_by_label("Search", exact=True)
    box.fill(q)
    box.press("Enter")


def test_search_goes_to_what_it_finds_and_says_when_nothing_matches(
    stack: Stack, page: Any, no_explorer: None
) -> None:
    page.goto(stack.url + "/")
    page.locator("#gpus tbody tr[data-gpu]").first.wait_for()

    # A GPU key (any case) opens the GPU's page.
    gpu = next(g for g in stack.gpus if g.model == MI300X[2])
    search(page, "0x" + gpu.key[2:].upper())
    page.wait_for_url(f"**/#/gpu/{gpu.key}")
    page.locator("#detail-title", has_text=MI300X[2]).wait_for()
    assert page.locator("#search-results").is_hidden()

    # A provider's address, in lower case, opens the provider's page.
    boreal = stack.providers["boreal"].address
    search(page, boreal.lower())
    page.wait_for_url(f"**/#/provider/{boreal}")
    page.locator("#detail-title", has_text="Boreal Compute").wait_for()

    # An agent's address opens its provider's page.
    search(page, stack.agents["acme"].address)
    page.wait_for_url(f"**/#/provider/{stack.providers['acme'].address}")

    # A transaction that attested a GPU opens that GPU.
    first = stack.gpus[0]
    search(page, first.tx_hashes[0])
    page.wait_for_url(f"**/#/gpu/{first.key}")

    # A model's whole name filters the inventory by it.
    search(page, L4[2])
    page.wait_for_url(f"**/#/?model={L4[2]}")
    page.locator("#count", has_text="1 GPU match").wait_for()
    assert page.locator("#gpus tbody tr[data-gpu]").inner_text().count(L4[2]) == 1
    assert page.get_by_label("Model", exact=True).input_value() == L4[2]

    # A prefix that two models share lists both; choosing one follows it.
    search(page, "nvidia-")
    found = page.locator("#search-list li[data-kind='model']")
    found.first.wait_for()
    assert sorted(found.all_inner_texts()) == [f"Model {H100[2]}", f"Model {L4[2]}"]
    page.locator("#search-status", has_text="2 matches").wait_for()
    page.locator("#search-list a", has_text=H100[2]).click()
    page.wait_for_url(f"**/#/?model={H100[2]}")
    page.locator("#count", has_text="2 GPUs match").wait_for()
    assert page.locator("#search-results").is_hidden()

    # Garbage: nothing found, said plainly, and the view stays where it was.
    search(page, "no-such-gpu-anywhere")
    status = page.locator("#search-status")
    status.filter(has_text="Nothing found").wait_for()
    assert "no-such-gpu-anywhere" in status.inner_text()
    assert status.get_attribute("data-kind") == "error"
    assert page.url.endswith(f"#/?model={H100[2]}")

    # A malformed query: the API's problem detail.
    search(page, "x")
    status.filter(has_text="Cannot search").wait_for()
    assert "at least 2 characters" in status.inner_text()


def test_clicking_a_header_sorts_through_the_api(
    stack: Stack, page: Any, no_explorer: None
) -> None:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/gpus?" in r.url else None)
    by_key = {g.key: g for g in stack.gpus}
    memory = {MI300X[2]: MI300X[3], H100[2]: H100[3], L4[2]: L4[3]}
    page.goto(stack.url + "/")
    page.locator("#gpus tbody tr[data-gpu]").first.wait_for()
    head = page.locator("#gpus thead")
    throughput = head.locator("th[data-sort='throughput']")
    assert throughput.get_attribute("aria-sort") == "descending"
    assert head.locator("th[aria-sort]").count() == 1
    # Only the columns the API sorts by have a button.
    sortable = head.locator("th:has(button.sort)").evaluate_all(
        "ths => ths.map((th) => th.dataset.sort)"
    )
    assert sortable == ["gpu_key", "memory", "throughput", "measured_at"]

    mem = head.locator("th[data-sort='memory']")
    mem.get_by_role("button").click()
    page.wait_for_url("**/#/?sort=-memory")
    page.locator("#gpus th[data-sort='memory'][aria-sort='descending']").wait_for()
    page.wait_for_function(
        """() => [...document.querySelectorAll("#gpus tbody tr[data-gpu] td:nth-child(2)")]
            .map((td) => td.textContent)[0] === "amd-mi300x-192gb" """
    )
    keys = row_keys(page)
    sizes = [memory[by_key[k].model] for k in keys]
    assert sizes == sorted(sizes, reverse=True) and len(keys) == 4
    assert throughput.get_attribute("aria-sort") is None
    assert any("sort=-memory" in url for url in asked), asked

    # A second click reverses the order.
    mem.get_by_role("button").click()
    page.wait_for_url("**/#/?sort=memory")
    page.locator("#gpus th[data-sort='memory'][aria-sort='ascending']").wait_for()
    page.wait_for_function(
        """() => document.querySelector("#gpus tbody tr[data-gpu] td:nth-child(2)")
            ?.textContent === "nvidia-l4-24gb" """
    )
    sizes = [memory[by_key[k].model] for k in row_keys(page)]
    assert sizes == sorted(sizes)
    assert page.get_by_label("Sort by").input_value() == "memory"

    # GPU key: ascending first, then descending; the sort keeps the other filters.
    page.goto(stack.url + "/#/?vendor=nvidia")
    page.locator("#count", has_text="3 GPUs match").wait_for()
    gpu_col = head.locator("th[data-sort='gpu_key']")
    gpu_col.get_by_role("button").click()
    nvidia = sorted(g.key for g in stack.gpus if g.vendor == "nvidia")
    wait_for_rows(page, nvidia)
    assert gpu_col.get_attribute("aria-sort") == "ascending"
    assert "vendor=nvidia" in page.url and "sort=gpu_key" in page.url
    gpu_col.get_by_role("button").click()
    wait_for_rows(page, list(reversed(nvidia)))
    assert gpu_col.get_attribute("aria-sort") == "descending"

    # The sort survives in the address: a reload shows the same order and header.
    page.reload()
    wait_for_rows(page, list(reversed(nvidia)))
    page.locator("#gpus th[data-sort='gpu_key'][aria-sort='descending']").wait_for()

    # A provider's page lists GPUs under the same columns, without sort buttons.
    page.goto(f"{stack.url}/#/provider/{stack.providers['acme'].address}")
    page.locator("#provider-gpus tbody tr[data-gpu]").first.wait_for()
    assert page.locator("#provider-gpus thead button").count() == 0
    assert page.locator("#provider-gpus thead th[aria-sort]").count() == 0


def test_copy_buttons_put_the_value_on_the_clipboard(
    stack: Stack, page: Any, no_explorer: None
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
    gpu = stack.gpus[0]
    page.goto(stack.url + "/")
    row = page.locator(f'#gpus tr[data-gpu="{gpu.key}"]')
    row.wait_for()

    def copied(scope: Any, what: str, value: str | None) -> None:
        """Clicks the copy button for ``what`` in ``scope``: it says so, and holds ``value``."""
        button = scope.get_by_role("button", name=f"Copy {what}", exact=True).first
        assert button.get_attribute("data-copy") == value
        button.click()
        done = scope.locator(f'button.copy[data-copy="{value}"][data-state="copied"]').first
        done.wait_for()
        assert "copied" in done.inner_text()
        assert done.get_attribute("aria-label") == f"{what} copied"
        assert page.evaluate("navigator.clipboard.readText()") == value

    copied(row, "GPU key", gpu.key)
    copied(row, "provider address", gpu.provider)
    # The "copied" state is brief: the button returns to its icon.
    page.wait_for_function(
        """(key) => !document.querySelector(
            `#gpus tr[data-gpu="${key}"] button.copy[data-state]`)""",
        arg=gpu.key,
    )

    # On the GPU's page: the key, the agent, each transaction and each oracle signer.
    page.goto(f"{stack.url}/#/gpu/{gpu.key}")
    history = page.locator("#attestations tbody tr")
    history.first.wait_for()
    facts = page.locator("#view-detail .facts")
    copied(facts, "GPU key", gpu.key)
    copied(facts, "agent address", gpu.agent)
    newest = history.nth(0)
    copied(newest, "transaction hash", gpu.tx_hashes[-1])
    signer = newest.locator("ul.signers li").first
    copied(signer, "oracle address", signer.locator("code").get_attribute("aria-label"))

    # The provider's page: its address and its agents.
    page.goto(f"{stack.url}/#/provider/{gpu.provider}")
    page.locator("#agents tbody tr[data-agent]").first.wait_for()
    copied(facts, "provider address", gpu.provider)
    agents = page.locator("#agents")
    copied(agents, "agent address", gpu.agent)

    # Without the Clipboard API (an http page off localhost), the fallback copies the same.
    page.evaluate(
        """() => {
            window.realClipboard = navigator.clipboard;
            Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined });
        }"""
    )
    page.evaluate("window.realClipboard.writeText('')")
    page.wait_for_function("() => !document.querySelector('#agents button.copy[data-state]')")
    agents.get_by_role("button", name="Copy agent address").click()
    agents.locator('button.copy[data-state="copied"]').wait_for()
    assert page.evaluate("window.realClipboard.readText()") == gpu.agent


def test_block_explorer_links_appear_when_configured(
    with_explorer: None, stack: Stack, page: Any
) -> None:
    with httpx.Client(base_url=stack.url) as client:
        config = client.get("/v1/config").json()
    assert config["chain_id"] == 31337 and config["dev_chain"] is True
    assert config["block_explorer"]["url"] == EXPLORER
    gpu = stack.gpus[0]
    page.goto(f"{stack.url}/#/gpu/{gpu.key}")
    history = page.locator("#attestations tbody tr")
    history.first.wait_for()
    facts = page.locator("#view-detail .facts")
    assert facts.locator("a[data-explorer='address']").count() == 2  # provider and agent
    agent = facts.locator(f'a[href="{EXPLORER}/address/{gpu.agent}"]')
    short = f"{gpu.agent[:8]}…{gpu.agent[-4:]}"
    assert agent.get_attribute("aria-label") == f"{short} on explorer.example"
    assert agent.get_attribute("target") == "_blank"
    assert "noopener" in (agent.get_attribute("rel") or "")
    provider_links = facts.locator(f'a[href="{EXPLORER}/address/{gpu.provider}"]')
    assert provider_links.count() == 1
    tx = history.nth(0).locator("td.tx a[data-explorer='tx']")
    assert tx.get_attribute("href") == f"{EXPLORER}/tx/{gpu.tx_hashes[-1]}"
    assert history.nth(0).locator("ul.signers a[data-explorer='address']").count() == 2
    # A GPU key is no chain address: it has a copy button and no explorer link.
    assert facts.locator(f'a[href*="{gpu.key}"]').count() == 0

    page.goto(f"{stack.url}/#/provider/{gpu.provider}")
    page.locator("#agents tbody tr[data-agent]").first.wait_for()
    assert page.locator(f'#view-detail .facts a[href="{EXPLORER}/address/{gpu.provider}"]').count()
    assert page.locator(f'#agents a[href="{EXPLORER}/address/{gpu.agent}"]').count() == 1

    page.goto(stack.url + "/")
    row = page.locator(f'#gpus tr[data-gpu="{gpu.key}"]')
    row.wait_for()
    assert row.locator("a[data-explorer='address']").get_attribute("href") == (
        f"{EXPLORER}/address/{gpu.provider}"
    )


def test_no_block_explorer_link_without_one(no_explorer: None, stack: Stack, page: Any) -> None:
    with httpx.Client(base_url=stack.url) as client:
        config = client.get("/v1/config").json()
    assert config == {"chain_id": 31337, "dev_chain": True, "block_explorer": None}
    gpu = stack.gpus[0]
    page.goto(f"{stack.url}/#/gpu/{gpu.key}")
    page.locator("#attestations tbody tr").first.wait_for()
    assert page.locator("#view-detail .facts button.copy").count() >= 3
    assert page.locator("a.ext").count() == 0
    page.goto(stack.url + "/")
    page.locator("#gpus tbody tr[data-gpu]").first.wait_for()
    assert page.locator("a.ext").count() == 0


def test_export_downloads_the_csv_of_the_filter(
    stack: Stack, page: Any, no_explorer: None, tmp_path: Path
) -> None:
    page.goto(stack.url + "/#/?vendor=nvidia&sort=memory")
    page.locator("#count", has_text="3 GPUs match").wait_for()
    shown = row_keys(page)
    link = page.get_by_role("link", name="Export CSV")
    href = link.get_attribute("href") or ""
    assert "format=csv" in href and "vendor=nvidia" in href and "sort=memory" in href
    with page.expect_download() as download:
        link.click()
    path = tmp_path / "gpus.csv"
    download.value.save_as(path)
    assert download.value.suggested_filename == "gpus.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["gpu_key"] for r in rows] == shown
    assert {r["vendor"] for r in rows} == {"nvidia"}
    # The page stays where it was; a new filter changes the link.
    assert page.url.endswith("#/?vendor=nvidia&sort=memory")
    page.get_by_label("Vendor", exact=True).select_option("amd")
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#count", has_text="1 GPU match").wait_for()
    href = link.get_attribute("href") or ""
    assert "vendor=amd" in href and "vendor=nvidia" not in href
