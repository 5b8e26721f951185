"""French and English pages (issue 25 part 2) in a real headless Chromium, on the race of
``one_caught`` (races/paris-j1000, ``[race] language = "fr"``): a French browser gets the three
pages in French (layout, the scripts' text, numbers written the French way, the events' texts); the
FR/EN switch turns them to English and the choice is remembered on reload and on the other pages;
an English browser gets English. Without a browser: ``<html lang>``, the page's dictionary, the
cookie the switch sets, the race's default, ``/event`` and the results' header row."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
import pytest

from dashboard.event_page import event_html
from i18n.catalogue import language
from live.race.event import load_event
from tests.conftest import ROOT
from tests.dashboard.test_accessibility import RUN_AXE, axe_source
from tests.dashboard.test_pages import one_caught, two_refreshes  # noqa: F401  # fixtures
from tests.helpers import ARTIFACTS, CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.browser
NNBSP = "\u202f"  # French digit groups (Intl.NumberFormat, like Babel)

LIVE = {"fr": "en direct", "en": "live"}
PAGES = {  # a text of each page, by language: its layout (Python) and its script (pursuit.js)
    "/": {
        "fr": ("Direction de course", "horloge de course", "Prochains rattrapés"),
        "en": ("Race control", "race clock"),
    },
    "/follow": {
        "fr": ("Trouver un coureur", "derrière le poursuivant : "),
        "en": ("Find a runner", "behind the pursuer: "),
    },
    "/commentary": {"fr": ("vainqueurs à ce stade", "En direct", "sur "), "en": ("winners so far", "Live", "of ")},
}


async def shown(context, base: str, path: str, lang: str, errors: list[str]):  # type: ignore[no-untyped-def]
    page = await context.new_page()
    page.on("console", lambda m: errors.append(f"{path}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{path}: {e}"))
    await page.goto(base + path)
    await page.wait_for_function(f"document.querySelector('#conn')?.innerText === {LIVE[lang]!r}", timeout=30000)
    await two_refreshes(page)
    if path == "/follow":
        await page.wait_for_selector(".card .card-status", timeout=15000)
    return page


async def check(page, path: str, lang: str) -> None:  # type: ignore[no-untyped-def]
    assert await page.get_attribute("html", "lang") == lang
    text = await page.text_content("body") or ""  # as written, not as CSS cases it
    for wanted in PAGES[path][lang]:
        assert wanted in text, f"{path} in {lang}: {wanted!r} not in the page"
    other = "EN" if lang == "fr" else "FR"
    assert await page.is_visible(f".lang-switch a.lang-link:text-is('{other}')"), "the switch to the other language"


async def test_french_by_the_browser_and_by_the_switch_remembered_english_when_asked(one_caught: tuple[str, str]):  # noqa: F811
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    base, bib = one_caught
    errors: list[str] = []
    follow = f"localStorage.setItem('pursuit.follow', '[\"{bib}\"]')"
    axe, violations = axe_source(), {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        french = await browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
        await french.add_init_script(follow)
        for path in PAGES:
            page = await shown(french, base, path, "fr", errors)
            await check(page, path, "fr")
            await page.add_script_tag(content=axe)  # the French pages (longer words, the switch) stay accessible
            if found := await page.evaluate(RUN_AXE):
                violations[path] = found
            if path == "/follow":  # a distance the French way, the map told in French
                card = await page.inner_text(".card")
                assert re.search(r"\d,\d\d sur 5,00 km", card), card  # "0,59 sur 5,00 km"
                summary = await page.text_content("#map-summary")
                assert summary and re.match(rf"Carte du parcours : \d{NNBSP}\d{{3}} coureurs", summary), summary
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "follow-fr.png"))
            if path == "/commentary":  # the events' texts, written again in French from their fields
                await page.wait_for_function("document.querySelectorAll('#ticker li').length > 0", timeout=15000)
                ticker = await page.inner_text("#ticker")
                assert "rattrape" in ticker or "passe à" in ticker, ticker
                assert " catches " not in ticker and " passes " not in ticker, ticker
                assert "{" not in ticker and "–." not in ticker, ticker  # every field filled
            await page.close()

        # the switch: English on this page, on reload, and on the other pages of the site
        page = await shown(french, base, "/follow", "fr", errors)
        await page.click(".lang-switch a.lang-link:text-is('EN')")
        await page.wait_for_function(f"document.querySelector('#conn')?.innerText === {LIVE['en']!r}", timeout=30000)
        await page.wait_for_selector(".card .card-status", timeout=15000)
        await check(page, "/follow", "en")
        await page.reload()
        await page.wait_for_function(f"document.querySelector('#conn')?.innerText === {LIVE['en']!r}", timeout=30000)
        await page.wait_for_selector(".card .card-status", timeout=15000)
        await check(page, "/follow", "en")
        await page.close()
        page = await shown(french, base, "/commentary", "en", errors)
        await check(page, "/commentary", "en")
        await page.close()
        await french.close()

        # /event, a plain page without a server behind it here: its HTML and the switch
        page = await browser.new_page()
        await page.set_content(event_html(load_event(ROOT / "races" / "paris-2024")))
        await page.add_script_tag(content=axe)
        if found := await page.evaluate(RUN_AXE):
            violations["/event"] = found
        await page.close()

        english = await browser.new_context(locale="en-GB", viewport={"width": 1600, "height": 1000})
        page = await shown(english, base, "/", "en", errors)
        await check(page, "/", "en")
        await page.wait_for_function("document.querySelector('#kpi-started')?.innerText !== '–'", timeout=15000)
        await browser.close()
    assert errors == [], errors
    assert violations == {}, json.dumps(violations, indent=1, ensure_ascii=False)


async def test_the_language_of_a_request_without_a_browser(one_caught: tuple[str, str]):  # noqa: F811
    base, _ = one_caught
    async with httpx.AsyncClient(base_url=base) as http:
        page = (await http.get("/follow", headers={"accept-language": "fr-FR,fr;q=0.9"})).text
        assert '<html lang="fr">' in page
        src = re.search(r'<script src="([^"]+/i18n-fr-spectator\.js)">', page)[1]  # type: ignore[index]
        script = await http.get(src)  # content-hashed and immutable, like the page's other scripts
        assert "immutable" in script.headers["cache-control"]
        data = json.loads(script.text.removeprefix("window.pursuitI18n = ").rstrip().removesuffix(";"))
        assert data["lang"] == "fr" and data["messages"]["caught"] == "rattrapé"
        assert "Sign in" not in data["messages"]  # race control's console is not on a spectator page
        assert '<html lang="fr">' in (await http.get("/follow")).text  # no preference: the race's language
        assert '<html lang="en">' in (await http.get("/follow", headers={"accept-language": "en-US"})).text

        switched = await http.get("/commentary?lang=en", headers={"accept-language": "fr"})
        assert '<html lang="en">' in switched.text and switched.cookies.get("pursuit_lang") == "en"
        assert '<html lang="en">' in (await http.get("/", headers={"accept-language": "fr"})).text  # remembered
        http.cookies.clear()
        layout = (await http.get("/_dash-layout", headers={"accept-language": "fr"})).text
        assert "Direction de course" in layout and "Race control" not in layout

        rows = list(csv.reader(io.StringIO((await http.get("/api/results.csv?lang=fr")).text)))
        machine = list(csv.reader(io.StringIO((await http.get("/api/results.csv")).text)))
        assert machine[0][:3] == ["place", "bib", "name"] and rows[0][:3] == ["place", "dossard", "nom"]
        assert rows[1:] == machine[1:]
        assert (await http.get("/api/results.csv?lang=de")).status_code == 400


def test_the_event_view_in_both_languages():
    event = load_event(ROOT / "races" / "paris-2024")
    french, english = event_html(event), event_html(event, language("en"))
    assert '<html lang="fr">' in french and ">direction de course</a>" in french and "results.csv?lang=fr" in french
    assert '<html lang="en">' in english and ">race control</a>" in english
    assert 'class="lang-link" href="?lang=en"' in french
