"""Sharing and following on ``/follow`` in a real headless Chromium: a link ``/follow?bib=a,b`` opens
with those runners' cards (and the share button gives that link back), Enter in the search box
follows the first match, a runner caught while the page was closed is told in a notice; and every
page and GET route answers ``HEAD`` as its ``GET``, without the body."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import CHROMIUM_ARGS, open_page, require_chromium
from tests.helpers.browser import two_refreshes

pytestmark = pytest.mark.browser


async def test_head_is_answered_on_every_page_and_get_route(no_data_yet: str):
    """``HEAD`` gives the ``GET``'s status and content type, and no body."""
    async with httpx.AsyncClient(base_url=no_data_yet) as http:
        paths = ["/", "/follow", "/commentary", "/api/roster", "/api/runners?q=1", "/healthz", "/api/openapi.json"]
        for path in paths:
            got, head = await http.get(path), await http.head(path)
            assert head.status_code == got.status_code, f"HEAD {path}: {head.status_code}, GET {got.status_code}"
            assert head.status_code != 405, path
            assert head.content == b"", f"HEAD {path} sent a body"
            assert head.headers.get("content-type") == got.headers.get("content-type"), path
        refused = await http.post("/follow")  # a page takes no POST: HEAD does not open it either
        assert refused.status_code == 405, refused.status_code


async def test_a_shared_link_opens_with_its_runners_and_a_catch_while_away_is_told(one_caught: tuple[str, str]):
    """``/follow?bib=<caught walker>,121`` opens with both cards (the walker's was ``started`` when
    this browser last saw him: a notice says he was caught); the share button gives the same link;
    Enter in the search box follows the first runner that matches."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    base, bib = one_caught
    async with httpx.AsyncClient(base_url=base) as http:
        first = (await http.get("/api/runners", params={"q": "Dup", "limit": 1})).json()["runners"]
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        await context.add_init_script(
            "if (!sessionStorage.getItem('once')) { sessionStorage.setItem('once', '1');"
            f" localStorage.setItem('pursuit.seen', JSON.stringify({{'{bib}': 'started'}})); }}"
        )
        page = await open_page(context, base, f"/follow?bib={bib},121", errors)
        await page.wait_for_selector(f".card[data-bib='{bib}'] .card-status", timeout=15000)
        await page.wait_for_selector(".card[data-bib='121']", timeout=5000)
        await page.wait_for_selector("#follow-notices li", timeout=5000)
        notice = await page.inner_text("#follow-notices")
        assert f"({bib}): caught at " in notice, notice
        assert await page.evaluate("location.search") == "", "the shared bibs stay in the address bar"
        await page.click("#follow-share-button")
        link = await page.input_value("#follow-share-link")
        assert link == f"{base}/follow?bib={bib},121", link
        await page.reload()  # the list is kept; the catch was told once
        await page.wait_for_selector(f".card[data-bib='{bib}'] .card-status", timeout=15000)
        await two_refreshes(page)
        assert await page.locator("#follow-notices li").count() == 0
        if first:
            await page.fill("#follow-search", "Dup")
            await page.press("#follow-search", "Enter")
            await page.wait_for_selector(f".card[data-bib='{first[0]['bib']}']", timeout=5000)
            assert await page.input_value("#follow-search") == ""
        await browser.close()
    assert first, "the fixture race has a runner whose name matches 'Dup'"
    assert errors == []
