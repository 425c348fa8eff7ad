"""The explorer page in headless Chromium, over the real API, indexer and anvil events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from web_helpers import H100, L4, MI300X, Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def gpu_rows(page: Any) -> Any:
    return page.locator("#gpus tbody tr[data-gpu]")


def test_pages_are_served_with_their_assets(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as client:
        for path in ("/", "/onboard"):
            answer = client.get(path)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/html")
            assert "default-src 'self'" in answer.headers["content-security-policy"]
        for asset in ("style.css", "common.js", "explorer.js", "onboard.js"):
            assert client.get(f"/web/{asset}").status_code == 200
        assert "/" not in client.get("/openapi.json").json()["paths"]


def test_inventory_lists_filters_and_pages(stack: Stack, page: Any, tmp_path: Path) -> None:
    page.goto(stack.url + "/")
    rows = gpu_rows(page)
    rows.first.wait_for()
    assert rows.count() == 4
    for gpu in stack.gpus:
        assert page.locator(f'#gpus tr[data-gpu="{gpu.key}"]').count() == 1
    page.locator("#count", has_text="4 GPUs match").wait_for()

    # Live totals from /v1/stats: three of the four GPUs were in the liveness report.
    page.locator('[data-stat="online_gpus"]', has_text="3").wait_for()
    models = page.locator('[data-breakdown="model"] tbody tr')
    assert models.count() == 3
    assert page.locator('[data-breakdown="region"] tbody th', has_text="us-east").count() == 1
    # The chart is the online capacity of each liveness epoch the oracles recorded.
    assert page.locator("#chart svg path.line").count() == 1
    caption = page.locator("#chart-caption", has_text="per liveness epoch (1 epoch)")
    caption.wait_for()
    page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)

    # Vendor narrows to the one AMD GPU; the filter lands in the address for sharing.
    page.get_by_label("Vendor", exact=True).select_option("amd")
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#count", has_text="1 GPU match").wait_for()
    assert rows.count() == 1
    mi300x = next(g for g in stack.gpus if g.model == MI300X[2])
    assert rows.first.get_attribute("data-gpu") == mi300x.key
    assert "vendor=amd" in page.url

    # Minimum memory (GiB in the form, bytes to the API) and region, together.
    page.get_by_role("button", name="Reset").click()
    page.locator("#count", has_text="4 GPUs match").wait_for()
    page.get_by_label("Min memory (GiB)").fill(str(80))
    page.get_by_label("Region", exact=True).select_option("eu-west")
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#count", has_text="1 GPU match").wait_for()
    assert rows.first.get_attribute("data-gpu") == stack.gpus[0].key
    assert "min_memory=80" in page.url

    # Online: the L4 was not in the liveness report.
    page.goto(stack.url + "/#/?online=false")
    page.locator("#gpus tbody tr", has_text="nvidia-l4-24gb").wait_for()
    assert rows.count() == 1

    # Cursor pages of two.
    page.goto(stack.url + "/#/?limit=2")
    page.locator("#page", has_text="page 1 of 2").wait_for()
    first_page = {rows.nth(i).get_attribute("data-gpu") for i in range(rows.count())}
    page.get_by_role("button", name="Next →").click()
    page.locator("#page", has_text="page 2 of 2").wait_for()
    second_page = {rows.nth(i).get_attribute("data-gpu") for i in range(rows.count())}
    assert len(first_page) == 2 and len(second_page) == 2
    assert first_page | second_page == {g.key for g in stack.gpus}
    assert page.get_by_role("button", name="Next →").is_disabled()
    page.get_by_role("button", name="← Previous").click()
    page.locator("#page", has_text="page 1 of 2").wait_for()


def test_gpu_page_shows_attestation_history(stack: Stack, page: Any, tmp_path: Path) -> None:
    gpu = stack.gpus[0]  # attested twice, by oracles 0+1 then 0+2
    page.goto(stack.url + "/")
    page.locator(f'#gpus tr[data-gpu="{gpu.key}"] a.gpu-link').click()
    history = page.locator("#attestations tbody tr")
    history.first.wait_for()
    assert page.url.endswith(f"#/gpu/{gpu.key}")
    assert history.count() == 2
    text = page.locator("#view-detail").inner_text()
    assert "nvidia-h100-sxm5-80gb" in text
    assert "verified" in text and "online" in text
    # Full values are in each shortened hash's label, newest attestation first.
    labels = [history.nth(i).locator("td.tx code").get_attribute("aria-label") for i in range(2)]
    assert labels == list(reversed(gpu.tx_hashes))
    newest_signers = {
        history.nth(0).locator("ul.signers code").nth(i).get_attribute("aria-label")
        for i in range(2)
    }
    oldest_signers = {
        history.nth(1).locator("ul.signers code").nth(i).get_attribute("aria-label")
        for i in range(2)
    }
    assert newest_signers == {stack.oracles[0].address, stack.oracles[2].address}
    assert oldest_signers == {stack.oracles[0].address, stack.oracles[1].address}
    page.screenshot(path=str(tmp_path / "gpu.png"), full_page=True)

    # Its provider's page lists the authorized agent and the provider's GPUs.
    page.locator(f'#view-detail .facts a[href="#/provider/{gpu.provider}"]').click()
    page.locator("#agents tbody tr[data-agent]").first.wait_for()
    assert page.url.endswith(f"#/provider/{gpu.provider}")
    assert page.locator("#agents tbody tr[data-agent]").get_attribute("data-agent") == gpu.agent
    assert page.locator("#view-detail tr[data-gpu]").count() == 2
    page.screenshot(path=str(tmp_path / "provider.png"), full_page=True)


def test_gpu_page_shows_uptime_and_recent_epochs(stack: Stack, page: Any, tmp_path: Path) -> None:
    live = stack.gpus[0]  # live in the one recorded epoch
    idle = next(g for g in stack.gpus if g.model == L4[2])  # attested, never live
    page.goto(stack.url + f"/#/gpu/{live.key}")
    cells = page.locator("#epoch-strip .epoch")
    cells.first.wait_for()
    assert page.locator("#uptime-24h").inner_text() == "100.0%"
    assert page.locator("#uptime-7d").inner_text() == "100.0%"
    assert cells.count() == 144
    states = cells.evaluate_all("els => els.map((e) => e.dataset.state)")
    assert states.count("online") == 1 and set(states) == {"online", "missing"}
    label = page.locator("#epoch-strip").get_attribute("aria-label") or ""
    assert "1 online" in label and "143 missing" in label
    page.screenshot(path=str(tmp_path / "uptime.png"), full_page=True)

    page.goto(stack.url + f"/#/gpu/{idle.key}")
    page.locator("#epoch-strip .epoch-offline").first.wait_for()
    assert page.locator("#uptime-24h").inner_text() == "0.0%"

    # The list carries each live GPU's availability and health.
    page.goto(stack.url + "/")
    row = page.locator(f'#gpus tr[data-gpu="{live.key}"]')
    row.wait_for()
    badges = row.locator(".badge").all_inner_texts()
    assert "available" in badges and "healthy" in badges and "online" in badges


def test_unknown_gpu_says_so(stack: Stack, page: Any) -> None:
    page.goto(stack.url + "/#/gpu/0x" + "ab" * 32)
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Could not load" in alert.inner_text()
    page.errors.clear()  # the 404 is the point here


def test_totals_follow_new_attestations_live(stack: Stack, page: Any) -> None:
    page.goto(stack.url + "/")
    page.locator('[data-stat="gpus"]', has_text="4").wait_for()
    page.locator('#live[data-on="1"]').wait_for()
    stack.attest(stack.providers["boreal"], stack.agents["boreal"], [MI300X])
    # No reload: the /v1/events stream tells the page to refresh.
    page.locator('[data-stat="gpus"]', has_text="5").wait_for(timeout=30_000)
    page.locator("#count", has_text="5 GPUs match").wait_for()


def test_simulated_gpus_carry_a_badge(stack: Stack, page: Any) -> None:
    """A replayed GPU attests a ``sim:`` model id; the explorer labels it, in the table and on
    its own page, and labels no real GPU."""
    vendor, vendor_id, model, memory, gops = H100
    [sim] = stack.attest(
        stack.providers["acme"],
        stack.agents["acme"],
        [(vendor, vendor_id, f"sim:{model}", memory, gops // 100)],
    )
    page.goto(stack.url + "/")
    row = page.locator(f'#gpus tr[data-gpu="{sim.key}"]')
    row.wait_for()
    assert row.locator(".badge-sim").inner_text() == "simulated"
    assert page.locator("#gpus tbody .badge-sim").count() == 1
    row.locator("a.gpu-link").click()
    page.locator("#detail-title .badge-sim", has_text="simulated").wait_for()


def test_providers_view_lists_and_links(stack: Stack, page: Any) -> None:
    page.goto(stack.url + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Providers").click()
    table = page.locator("#providers tbody tr")
    table.first.wait_for()
    assert table.count() == 2
    assert {table.nth(i).locator("th").inner_text() for i in range(2)} == {
        "Acme GPU",
        "Boreal Compute",
    }
    page.get_by_role("link", name="Boreal Compute").click()
    page.locator("#agents tbody tr[data-agent]").first.wait_for()
    assert page.url.endswith(f"#/provider/{stack.providers['boreal'].address}")
    assert page.locator("#view-detail tr[data-gpu]").count() == 2
    assert page.evaluate("document.activeElement.id") == "detail-title"
