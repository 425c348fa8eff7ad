"""What a newcomer meets first: /docs offline, a truthful default order, distinct chart labels,
a provider's whole fleet page by page, a phone-sized screen, the site's icon."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from web_helpers import H100, L4, MI300X, Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _offline(page: Any) -> list[str]:
    """Fails every request that would leave the loopback; returns the list of those refused."""
    refused: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            route.continue_()
        else:
            refused.append(url)
            route.abort("internetdisconnected")

    page.route("**/*", handle)
    return refused


def test_docs_render_with_no_request_leaving_the_machine(stack: Stack, page: Any) -> None:
    refused = _offline(page)
    page.goto(stack.url + "/docs")
    page.locator(".swagger-ui .info .title", has_text="depin API").wait_for()
    page.locator(".swagger-ui .opblock", has_text="/v1/gpus").first.wait_for()
    assert refused == []
    with httpx.Client(base_url=stack.url) as client:
        html = client.get("/docs").text
        assert "cdn.jsdelivr.net" not in html and "/docs/assets/swagger-ui-bundle.js" in html
        assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert client.get("/docs/assets/swagger-ui.css").status_code == 200


def test_the_site_has_an_icon(stack: Stack, page: Any) -> None:
    with httpx.Client(base_url=stack.url) as client:
        for path in ("/favicon.ico", "/web/favicon.svg"):
            answer = client.get(path)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("image/svg+xml")
    page.goto(stack.url + "/")
    assert page.locator('link[rel="icon"]').get_attribute("href") == "/web/favicon.svg"
    page.goto(stack.url + "/onboard")
    assert page.locator('link[rel="icon"]').get_attribute("href") == "/web/favicon.svg"


def test_the_default_order_is_what_the_sort_field_says(stack: Stack, page: Any) -> None:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/gpus?" in r.url else None)
    page.goto(stack.url + "/")
    rows = page.locator("#gpus tbody tr[data-gpu]")
    rows.first.wait_for()
    sort = page.get_by_label("Sort by")
    assert sort.locator("option:checked").inner_text() == "throughput, highest first"
    # MI300X (2.1 M GOPS), two H100s (1.7 M), L4 (0.24 M): highest first
    order = [rows.nth(i).get_attribute("data-gpu") for i in range(rows.count())]
    by_key = {g.key: g for g in stack.gpus}
    assert [by_key[k].model for k in order] == [MI300X[2], H100[2], H100[2], L4[2]]
    assert any("sort=-throughput" in url for url in asked), asked


def test_chart_axis_labels_are_distinct(stack: Stack, page: Any) -> None:
    page.goto(stack.url + "/")
    page.locator("#chart svg").wait_for()
    labels = page.evaluate(
        """async () => {
          const { tickLabels, stepChart } = await import("/web/explorer.js");
          const small = stepChart([{ t: 0, v: 0 }, { t: 60, v: 1 }]);
          return {
            one: tickLabels([0, 0.25, 0.5, 0.75, 1]),
            three: tickLabels([0, 0.75, 1.5, 2.25, 3]),
            big: tickLabels([0, 625000, 1250000, 1875000, 2500000]),
            small: [...small.querySelectorAll("text.tick")].slice(0, 5).map((t) => t.textContent),
          };
        }"""
    )
    for name, values in labels.items():
        assert len(set(values)) == len(values) == 5, (name, values)
    assert labels["big"] == ["0", "625K", "1.25M", "1.875M", "2.5M"]
    assert labels["one"] == ["0", "0.25", "0.5", "0.75", "1"]
    ticks = page.locator("#chart svg text.tick").all_text_contents()
    y_labels = ticks[:5]
    assert len(set(y_labels)) == 5, ticks


def test_a_provider_page_pages_through_its_whole_fleet(stack: Stack, page: Any) -> None:
    acme, agent = stack.providers["acme"], stack.agents["acme"]
    for _ in range(2):
        stack.gpus += stack.attest(acme, agent, [L4] * 30)
    stack.sync()
    mine = {g.key for g in stack.gpus if g.provider == acme.address}
    assert len(mine) == 62

    page.goto(f"{stack.url}/#/provider/{acme.address}")
    rows = page.locator("#provider-gpus tbody tr[data-gpu]")
    page.locator("#provider-page", has_text="page 1 of 2").wait_for()
    page.locator("#provider-gpu-count", has_text="62 GPUs").wait_for()
    first = {rows.nth(i).get_attribute("data-gpu") for i in range(rows.count())}
    assert len(first) == 50
    assert page.locator("#provider-prev").is_disabled()

    page.locator("#provider-next").click()
    page.locator("#provider-page", has_text="page 2 of 2").wait_for()
    rows.nth(11).wait_for()
    second = {rows.nth(i).get_attribute("data-gpu") for i in range(rows.count())}
    assert len(second) == 12
    assert first | second == mine and not first & second
    assert page.locator("#provider-next").is_disabled()

    page.locator("#provider-prev").click()
    page.locator("#provider-page", has_text="page 1 of 2").wait_for()


@pytest.mark.parametrize(
    "where", ["/", "/#/providers", "/#/provider/{acme}", "/#/gpu/{gpu}", "/onboard"]
)
def test_pages_fit_a_375_px_screen(stack: Stack, chromium: Any, where: str) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2)
    try:
        page = context.new_page()
        url = stack.url + where.format(acme=stack.providers["acme"].address, gpu=stack.gpus[0].key)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        if where == "/":
            page.locator("#gpus tbody tr[data-gpu]").first.wait_for()
            page.locator("#chart svg").wait_for()
        elif where != "/onboard":
            page.locator("#detail-title").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(
            """() => [...document.querySelectorAll("body *")]
                .filter((e) => e.getBoundingClientRect().right > 375.5
                  && !e.closest(".scroll") && getComputedStyle(e).position !== "absolute")
                .slice(0, 5).map((e) => `${e.tagName}.${e.className}#${e.id}`)"""
        )
        assert width <= 375, (where, width, wide)
    finally:
        context.close()
