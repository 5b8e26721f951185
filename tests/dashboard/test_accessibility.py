"""axe-core (vendored in ``tests/data/axe.min.js``, npm ``axe-core``) on the three pages of a running
race, in a real headless Chromium at 1600×1000 and on a 390×844 phone: no serious or critical
violation (contrast AA, names for controls, landmarks...); the map's runners are told by shape as
well as colour, and the map carries a text summary for screen readers; search, follow and unfollow
work from the keyboard alone."""

from __future__ import annotations

import json

import pytest

from tests.helpers import CHROMIUM_ARGS, open_page, require_chromium
from tests.helpers.axe import RUN_AXE, axe_source
from tests.helpers.browser import two_refreshes

pytestmark = pytest.mark.browser

VIEWPORTS = ({"width": 1600, "height": 1000}, {"width": 390, "height": 844})


async def test_the_three_pages_have_no_serious_accessibility_violation(one_caught: tuple[str, str]):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    base, bib = one_caught
    source = axe_source()
    errors: list[str] = []
    found: dict[str, list[dict[str, object]]] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for viewport in VIEWPORTS:
            context = await browser.new_context(viewport=viewport)
            await context.add_init_script(f"localStorage.setItem('pursuit.follow', '[\"{bib}\"]')")
            for path in ("/", "/follow", "/commentary"):
                page = await open_page(context, base, path, errors)
                await two_refreshes(page)
                await page.add_script_tag(content=source)
                violations = await page.evaluate(RUN_AXE)
                if violations:
                    found[f"{path} at {viewport['width']}×{viewport['height']}"] = violations
                await page.close()
            await context.close()
        await browser.close()
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)
    assert errors == []


async def test_status_has_a_shape_and_the_map_a_summary_and_the_keyboard_follows(one_caught: tuple[str, str]):
    """The legend's statuses differ by symbol, not colour only; the map says in words what it shows;
    Tab reaches the search box, Enter follows, Tab reaches the card's remove button and Enter unfollows."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    base, bib = one_caught
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        page = await open_page(context, base, "/follow", errors)
        await two_refreshes(page)
        symbols = await page.evaluate(
            "() => [...document.querySelectorAll('#map .legend li')].map((li) => [li.textContent, li.dataset.symbol])"
        )
        assert len(symbols) >= 4 and len({s for _, s in symbols}) == len(symbols), symbols
        summary = await page.text_content("#map-summary")
        assert summary and "runners" in summary and "caught" in summary, summary
        for _ in range(12):  # Tab until the search box has the focus
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.id") == "follow-search":
                break
        else:
            raise AssertionError("Tab never reaches the search box")
        await page.keyboard.type(bib)
        await page.keyboard.press("Enter")
        await page.wait_for_selector(f".card[data-bib='{bib}'] .card-status", timeout=10000)
        await page.focus(f".card[data-bib='{bib}'] .card-remove")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(f".card[data-bib='{bib}']", state="detached", timeout=5000)
        await browser.close()
    assert errors == []
