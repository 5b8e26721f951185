"""The three pages in a real headless Chromium against a running, simulated race.

One race for the module: Redis, the ChronoTrack ingestor, the simulator at 60× and the web app
under uvicorn. Each page must load without console errors, show the course and the runners over
the basemap (streets, the Seine, landmark labels, the OpenStreetMap credit; labels checked from
their rendered boxes never to overlap; the map filling its panel), and move; the follow page finds
a runner whose name is an HTML payload and shows it as text, on a desktop and on a 390×844 phone.
A page opened before any data claims nothing. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import time
from collections.abc import AsyncIterator

import pytest

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.race.race_file import load_race
from live.store.store import Store
from pursuit.web import create_app
from simulator.run import simulate
from tests.helpers import ARTIFACTS, CHROMIUM_ARGS, eventually, open_page, require_chromium, running_uvicorn
from tests.helpers.browser import settled_map, shown_box, two_refreshes
from tests.helpers.pages import XSS_BIB, XSS_NAME
from tests.helpers.paths import PARIS

pytestmark = pytest.mark.browser


async def check_map(page, where: str, landmarks: tuple[str, ...] = ("Arc de Triomphe",)) -> dict:  # type: ignore[no-untyped-def]
    """The basemap under the runners, labelled without overlaps, credited, filling its panel."""
    await page.wait_for_function("window.pursuitMap && window.pursuitMap.state().placed > 0", timeout=15000)
    got = await settled_map(page)
    assert got["overlaps"] == [], f"{where}: labels overlap: {got['overlaps']}"
    assert got["inside"], f"{where}: a label sticks out of the map"
    for name in landmarks:
        assert name in got["labels"], f"{where}: {name!r} is not labelled: {got['labels']}"
    assert "© OpenStreetMap contributors" in got["credit"], f"{where}: the map data is not credited"
    colours = got["colours"]
    assert colours["water"] > 2000 and colours["park"] > 2000, f"{where}: the Seine and the parks are drawn: {colours}"
    assert colours["street"] > 2000, f"{where}: the streets are drawn: {colours}"
    assert got["plot"] == got["graph"] == got["canvas"], f"{where}: the plot fills the graph: {got}"
    assert max(got["band"]) <= 1, f"{where}: a blank band between the map and its panel: {got['band']}"
    layers = got["layers"]
    assert layers["basemapUnderPlot"] and layers["labels"] < layers["runners"], f"{where}: the runners on top: {layers}"
    return got


async def test_three_pages_live_in_a_real_browser(site: str):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})

        # race control: the course, every runner drawn, counts moving, mats and tables filled
        page = await open_page(context, site, "/", errors)
        started = "document.querySelector('#kpi-started')"
        await page.wait_for_function(f"{started} && {started}.innerText !== '–'", timeout=20000)
        first = await page.inner_text("#kpi-started")
        await page.wait_for_function(f"{started}.innerText !== {first!r}", timeout=30000)
        traces = dict(
            await page.evaluate(
                "() => document.querySelector('#map .js-plotly-plot')._fullData.map(t => [t.name, (t.x || []).length])"
            )
        )
        assert traces["course"] > 100 and traces["mats"] == 5, traces
        registered = len(load_race(PARIS).participants) - 1  # everyone but the pursuer, started or not
        assert await page.evaluate("window.pursuit.view.painted") == registered, "every runner has a dot"
        await check_map(
            page,
            "race control",
            ("Arc de Triomphe", "Grand Palais", "Départ / Arrivée", "Place de la Concorde", "Rue Marbeuf"),
        )
        await page.wait_for_selector("#mat-table table", timeout=10000)
        assert "marbeuf" in await page.inner_text("#mat-table")
        assert await page.inner_text("#conn") == "live"
        feed = await page.evaluate("window.pursuit.feed")
        assert feed["gzip"] and feed["binary"] >= 1, f"the snapshot came gzipped, as a binary message: {feed}"
        await page.wait_for_selector("#margins .bars, #margins .point", state="attached", timeout=10000)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-race-control.png"))
        await check_runners_move_and_are_corrected(page)

        # zoom survives the updates: plotly's figure is never replaced, the runners repaint over it
        graph = "document.querySelector('#map .js-plotly-plot')"
        await page.evaluate(f"Plotly.relayout({graph}, {{'xaxis.range': [-300, 300], 'yaxis.range': [-200, 200]}})")
        zoomed = await page.evaluate(f"{graph}._fullLayout.xaxis.range")  # as plotly kept the aspect ratio
        assert zoomed[1] - zoomed[0] < 1500, "zoomed in from the whole course"
        seq = await page.evaluate("window.pursuit.state.seq")
        await page.wait_for_function(f"window.pursuit.state.seq >= {seq + 2}", timeout=15000)
        kept = await page.evaluate(f"{graph}._fullLayout.xaxis.range")
        assert kept == zoomed, "the zoom was kept across two ticks"

        # a dropped connection says so, then comes back by itself and continues from the seq it held
        # (/ws/live?after=…&epoch=…): the ticks it missed, no new snapshot
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        before = await page.evaluate("window.pursuit.feed")
        held = await page.evaluate("window.pursuit.state.seq")
        epoch = await page.evaluate("window.pursuit.state.epoch")
        await page.evaluate("window.pursuit.drop()")
        await page.wait_for_function(
            "document.querySelector('#conn')?.innerText.includes('reconnecting')", timeout=5000
        )
        await page.wait_for_function("document.body.classList.contains('feed-stale')", timeout=5000)  # greyed
        await page.wait_for_function("document.querySelector('#conn')?.innerText === 'live'", timeout=15000)
        assert not await page.evaluate("document.body.classList.contains('feed-stale')")
        live_urls = [u for u in sockets if "/ws/live" in u]
        assert live_urls and live_urls[-1].endswith(f"?encoding=gzip&after={held}&epoch={epoch}"), live_urls
        after = await page.evaluate("window.pursuit.feed")
        assert after["resumed"] == before["resumed"] + 1, "it kept its state"
        assert after["binary"] == before["binary"], "no snapshot came"
        seq = await page.evaluate("window.pursuit.state.seq")
        await page.wait_for_function(f"window.pursuit.state.seq >= {seq + 2}", timeout=15000)  # ticks applied after it

        # a seq the server cannot continue from (here: ahead of its feed, as after a restart from nothing)
        # gets a new (gzipped) snapshot, and the page goes on from it
        await page.evaluate("window.pursuit.drop()")
        await page.wait_for_function(
            "document.querySelector('#conn')?.innerText.includes('reconnecting')", timeout=5000
        )
        await page.evaluate("window.pursuit.feed.resume = 1000000000")  # before its retry (0.75 s at least)
        await page.wait_for_function("document.querySelector('#conn')?.innerText === 'live'", timeout=15000)
        assert "after=1000000000&" in [u for u in sockets if "/ws/live" in u][-1]
        fallback = await page.evaluate("window.pursuit.feed")
        assert fallback["binary"] > after["binary"] and fallback["resumed"] == after["resumed"], fallback
        seq = await page.evaluate("window.pursuit.state.seq")
        assert seq < 1000000000
        await page.wait_for_function(f"window.pursuit.state.seq >= {seq + 2}", timeout=15000)
        await page.close()

        # spectators: search by bib, follow, a card with the name as text, kept across a reload
        page = await open_page(context, site, "/follow", errors)
        await page.fill("#follow-search", XSS_BIB)
        await page.click(f".result:has(.result-bib:text-is('{XSS_BIB}')) .result-add")
        card = f".card[data-bib='{XSS_BIB}']"
        await page.wait_for_selector(f"{card} .card-status", timeout=15000)
        assert await page.inner_text(f"{card} .card-name") == XSS_NAME, "the name shows literally"
        assert await page.locator("#follow-cards img").count() == 0, "and is never parsed as HTML"
        assert "km" in await page.inner_text(f"{card} .card-distance")
        await check_map(page, "follow", ("Arc de Triomphe", "La Seine", "Grand Palais"))
        await page.screenshot(path=str(ARTIFACTS / "dashboard-follow.png"))
        await page.reload()
        await page.wait_for_selector(f"{card} .card-status", timeout=15000)
        await page.close()

        # on a phone: the same follow list (same browser storage), nothing wider than the screen; search,
        # then the map, then the cards; a second runner found and followed by touch
        state = await context.storage_state()
        phone_context = await browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            storage_state=state,
        )
        phone = await open_page(phone_context, site, "/follow", errors)
        await phone.wait_for_selector(f"{card} .card-status", timeout=15000)
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
        await check_map(phone, "follow on a phone", ("La Seine",))
        search, graph = await phone.locator("#follow-search").bounding_box(), await phone.locator("#map").bounding_box()
        assert search and graph and search["y"] + search["height"] <= graph["y"], "the search comes before the map"
        assert graph["height"] >= 400 and graph["width"] >= 370, f"the map is usable: {graph}"
        card_box = await shown_box(phone.locator(card))  # the cards are redrawn with each tick
        assert graph["y"] + graph["height"] <= card_box["y"], "then the cards"
        await phone.fill("#follow-search", "121")
        await phone.tap(".result:has(.result-bib:text-is('121')) .result-add")
        await phone.wait_for_selector(".card[data-bib='121'] .card-status", timeout=15000)
        await phone.screenshot(path=str(ARTIFACTS / "dashboard-follow-phone.png"), full_page=True)
        await phone_context.close()

        # commentators: the story numbers and the ticker
        page = await open_page(context, site, "/commentary", errors)
        await page.wait_for_function(
            "(document.querySelector('#story-forecast')?.innerText ?? '–') !== '–'", timeout=15000
        )
        await page.wait_for_selector("#ticker li", timeout=60000)
        assert await page.inner_text("#story-pursuer-sub") != ""
        await check_map(page, "commentary", ("Arc de Triomphe", "Place de la Concorde"))
        await page.screenshot(path=str(ARTIFACTS / "dashboard-commentary.png"))
        await page.close()

        # a browser without DecompressionStream does not ask for gzip, and gets the JSON text as before
        page = await open_page(context, site, "/commentary", errors, "delete window.DecompressionStream")
        assert await page.evaluate("window.pursuit.feed") == {"gzip": False, "binary": 0, "resume": -1, "resumed": 0}
        await page.close()
        await browser.close()
    assert errors == [], f"console errors: {errors}"


# In the page: where the running runners are drawn, twice within one tick (no row sent in between)
MOVES_JS = """async () => {
  const P = window.pursuit, S = P.state, wait = (ms) => new Promise((ok) => setTimeout(ok, ms));
  for (let attempt = 0; attempt < 10; attempt++) {
    const seq = S.seq, rows = [];
    for (let r = 0; r < S.n && rows.length < 200; r++) if (S.speed[r] > 0 && S.dist[r] > 0) rows.push(r);
    const before = rows.map((r) => P.drawnAt(r));
    await wait(250);
    if (S.seq !== seq) continue;
    const after = rows.map((r) => P.drawnAt(r));
    return {rows: rows.length, advanced: rows.filter((r, i) => after[i] > before[i]).length,
            back: rows.filter((r, i) => after[i] < before[i]).length};
  }
  return null;
}"""


async def check_runners_move_and_are_corrected(page) -> None:  # type: ignore[no-untyped-def]
    """Between ticks the page moves the runners itself; a tick resends a runner only once he is 25 m
    from where he is drawn (web/feed_rows.py), and that correction lands: he is drawn where it says."""
    moved = await page.evaluate(MOVES_JS)
    assert moved and moved["rows"] > 10 and moved["back"] == 0, moved
    assert moved["advanced"] > moved["rows"] // 2, f"runners move with no row sent: {moved}"
    await page.wait_for_function("window.pursuit.moves.corrections > 0", timeout=20000)
    moves = await page.evaluate(
        "(() => { const m = window.pursuit.moves; return {...m, held: window.pursuit.state.dist[m.last.row]}; })()"
    )
    last = moves["last"]
    assert abs(last["sent"] - last["drawn"]) > 25 and moves["rows"] >= moves["corrections"], moves
    assert moves["held"] == last["sent"], f"the correction landed: the runner is held where it said: {moves}"


async def test_pages_before_any_data_claim_nothing(no_data_yet: str):
    """Before the live feed has said anything (its socket open but silent), or while it cannot
    connect, every story card of /commentary shows "–" and no sub-line; race control's KPIs too."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    errors: list[str] = []
    stories = """Array.from(document.querySelectorAll('.story')).map((e) =>
      [e.querySelector('.story-value').innerText, e.querySelector('.story-sub').innerText])"""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        for case, handler in (("silent", lambda ws: None), ("refused", lambda ws: ws.close())):
            page = await context.new_page()
            page.on("pageerror", lambda e, case=case: errors.append(f"{case}: {e}"))
            await page.route_web_socket("**/ws/live*", handler)
            await page.goto(no_data_yet + "/commentary")
            await page.wait_for_function("window.pursuitMap && window.pursuitMap.state().placed > 0", timeout=15000)
            await page.wait_for_function("document.querySelector('#ticker')?.dataset.bound === '1'", timeout=10000)
            await page.wait_for_timeout(
                1200
            )  # two of the page's refreshes after binding: it has had its chance to claim
            cards = await page.evaluate(stories)
            assert len(cards) == 5 and all(value == "–" and sub == "" for value, sub in cards), f"{case}: {cards}"
            assert "every pen reached" not in await page.inner_text("body")
            if case == "refused":
                await page.wait_for_function("document.querySelector('#conn')?.innerText.includes('reconnecting')")
            await page.close()
        # connected, the race not started: what is shown is true (0 started), and no forecast is made yet
        page = await context.new_page()
        await page.goto(no_data_yet + "/commentary")
        await page.wait_for_function("document.querySelector('#conn')?.innerText === 'live'", timeout=15000)
        await two_refreshes(page)
        assert await page.inner_text("#story-forecast") == "–" and await page.inner_text("#story-won") == "0"
        assert "every pen reached" not in await page.inner_text("body")
        await page.goto(no_data_yet + "/")
        await page.wait_for_function("document.querySelector('#kpi-started')?.innerText === '0'", timeout=15000)
        assert await page.inner_text("#kpi-forecast") == "–"
        await browser.close()
    assert errors == []


TILES_COVER_JS = """() => {
  const gd = document.querySelector('#map .course-map'), g = gd.getBoundingClientRect();
  const r = Array.from(gd.querySelectorAll('.tiles-layer img')).map((i) => i.getBoundingClientRect());
  return [r.length, Math.min(...r.map((x) => x.left)) <= g.left, Math.max(...r.map((x) => x.right)) >= g.right,
          Math.min(...r.map((x) => x.top)) <= g.top, Math.max(...r.map((x) => x.bottom)) >= g.bottom];
}"""


def _png(size: int = 256) -> bytes:
    """A plain PNG tile (a solid colour), written by hand: no imaging library needed."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xc8\x3c\xc8" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def test_online_tiles_over_the_basemap_and_the_same_page_without_them(redis_server, redis, tmp_path):
    """``[map] tiles``: where the tile server answers, tiles cover the map and are credited; where
    it cannot be reached, the basemap shows as without tiles and nothing else changes."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from pursuit.redis_server import free_port

    tile = _png()
    asked: list[str] = []

    async def serve_tile(request):  # type: ignore[no-untyped-def]
        asked.append(request.url.path)
        return Response(tile, media_type="image/png")

    tiles_app = Starlette(routes=[Route("/tiles/{z}/{x}/{y}.png", serve_tile)])
    async with running_uvicorn(tiles_app) as tiles_base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for reachable, base_url in ((True, tiles_base), (False, f"http://127.0.0.1:{free_port()}")):
            race_dir = tmp_path / f"race-{reachable}"
            shutil.copytree(PARIS, race_dir)
            with (race_dir / "race.toml").open("a", encoding="utf-8") as f:
                f.write(
                    f'\n[map]\ntiles = "{base_url}/tiles/{{z}}/{{x}}/{{y}}.png"\ntiles_attribution = "© test tiles"\n'
                )
            async with running_uvicorn(create_app(load_race(race_dir), redis_server.url)) as base:
                page = await browser.new_page(viewport={"width": 1200, "height": 900})
                await page.goto(base + "/follow")
                if reachable:
                    await page.wait_for_function(
                        "window.pursuitMap && window.pursuitMap.state().tilesOk", timeout=15000
                    )
                    cover = await page.evaluate(TILES_COVER_JS)
                    assert cover[0] >= 4 and all(cover[1:]), f"the tiles cover the map: {cover}"
                    assert all(p.startswith("/tiles/") for p in asked) and len(asked) >= cover[0]
                    await page.wait_for_function(
                        "document.querySelector('.map-attribution')?.innerText.includes('© test tiles')"
                    )
                else:
                    await page.wait_for_function(
                        "window.pursuitMap && window.pursuitMap.state().tileErrors > 0", timeout=15000
                    )
                    await page.wait_for_function(
                        "document.querySelectorAll('.tiles-layer img').length === 0", timeout=15000
                    )
                    state = await page.evaluate("window.pursuitMap.state()")
                    assert state["basemap"] and state["placed"] > 0 and not state["tilesOk"]
                    credit = await page.inner_text(".map-attribution")
                    assert "© OpenStreetMap contributors" in credit and "test tiles" not in credit
                await page.close()
        await browser.close()


# In the page: put the pursuer (waiting at the start) at fraction (fx, fy) of the plot area by
# zooming the map, keeping the plot's aspect ratio.
PUT_PURSUER_JS = """([fx, fy]) => {
  const gd = document.querySelector('#map .course-map'), f = window.pursuitMap.frame(gd);
  const [X, Y] = window.pursuit.view.pxy, w = 600, h = w * f.h / f.w;
  gd.pursuitZoom(X - fx * w, X + (1 - fx) * w, Y - (1 - fy) * h, Y + fy * h);  // /follow's map (assets/chart.js)
}"""
# In the page: the pursuer's mark and the plot area in the graph's pixels, and how many pixels of his
# name (drawn near-black on the runners' canvas, away from his star) are on the screen.
PURSUER_NAME_JS = """() => {
  const gd = document.querySelector('#map .course-map'), f = window.pursuitMap.frame(gd);
  const [X, Y] = window.pursuit.view.pxy, mx = f.l + (X - f.x0) * f.kx, my = f.t + (f.y1 - Y) * f.ky;
  const c = gd.querySelector('canvas.runners-layer'), k = c.width / gd.clientWidth;
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i + 3] < 200 || px[i] > 60 || px[i + 1] > 60 || px[i + 2] > 60) continue;
    const x = (i / 4) % c.width / k, y = Math.floor(i / 4 / c.width) / k;
    if (Math.hypot(x - mx, y - my) > 17) ink++;
  }
  return {mark: [mx, my], plot: [f.l, f.t, f.l + f.w, f.t + f.h], ink};
}"""


async def test_the_pursuers_name_is_never_cut_off_by_the_edge_of_the_map(no_data_yet: str):
    """Wherever the pursuer is on the screen — at the Concorde, the right edge of a phone's map — his
    name is drawn whole inside the map, on whichever side of him there is room."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page = await context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(no_data_yet + "/follow")
        await page.wait_for_function("window.pursuit?.view.pxy !== undefined", timeout=20000)
        whole = None
        for where, at in (("middle", (0.5, 0.5)), ("right edge", (0.97, 0.5)), ("bottom edge", (0.5, 0.97)),
                          ("corner", (0.97, 0.97))):  # fmt: skip
            await page.evaluate(PUT_PURSUER_JS, list(at))
            deadline, last = asyncio.get_running_loop().time() + 5, None
            while True:  # repainted at the new zoom: the mark in place, the same ink twice
                got = await page.evaluate(PURSUER_NAME_JS)
                (x, y), (left, top, right, bottom) = got["mark"], got["plot"]
                near = abs(x - (left + at[0] * (right - left))) < 3 and abs(y - (top + at[1] * (bottom - top))) < 3
                if near and last == got["ink"] or asyncio.get_running_loop().time() > deadline:
                    break
                last = got["ink"]
                await asyncio.sleep(0.3)
            assert near, f"{where}: the pursuer was put at {at} of the plot: {got}"
            if whole is None:
                whole = got["ink"]
                assert whole > 300, f"his name is drawn beside him: {got}"
            else:
                assert got["ink"] >= 0.9 * whole, f"{where}: his name is cut off ({got['ink']} of {whole} px)"
        await browser.close()
    assert errors == []


WHOLE_COURSE_JS = """() => document.querySelector('#map .course-map').pursuitReset()"""
# In the page: every shown or covered place name of the map with its box in the graph's pixels, and
# the boxes of the names drawn on the runners' layer (the pursuer's, followed bibs')
LABELS_UNDER_MARKS_JS = """() => {
  const gd = document.querySelector('#map .course-map'), g = gd.getBoundingClientRect();
  const labels = [...document.querySelectorAll('.map-label:not(.off)')].map((e) => {
    const r = e.getBoundingClientRect();
    const box = [r.left - g.left, r.top - g.top, r.right - g.left, r.bottom - g.top];
    return [e.textContent, e.classList.contains('covered'), box];
  });
  return {labels, marks: window.pursuit.view.marks};
}"""


async def test_a_place_name_under_the_pursuers_name_is_hidden_not_half_shown(no_data_yet: str):
    """On a phone the pursuer's name lands on the map's place names (at the start: the Arc, the
    start mat; later the Rond-Point). A name under it is hidden while it is there, every other
    one is shown, and moving him on shows it again."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    def overlaps(a: list[float], b: list[float], by: float) -> bool:
        return a[0] < b[2] - by and b[0] + by < a[2] and a[1] < b[3] - by and b[1] + by < a[3]

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page = await context.new_page()
        await page.goto(no_data_yet + "/follow")
        await page.wait_for_function("window.pursuit?.view.marks.length > 0", timeout=20000)
        seen_covered: set[str] = set()
        for at in (None, (0.5, 0.5), (0.2, 0.5), None):  # None: the whole course, names crowd at the start
            if at is None:
                await page.evaluate(WHOLE_COURSE_JS)
            else:
                await page.evaluate(PUT_PURSUER_JS, list(at))
            await page.wait_for_timeout(800)  # repainted, and the labels laid out and covered again
            got = await page.evaluate(LABELS_UNDER_MARKS_JS)
            marks = got["marks"]
            for text, covered, box in got["labels"]:
                if covered:
                    seen_covered.add(text)
                    assert any(overlaps(box, m, -2) for m in marks), f"{text!r} hidden, but nothing is over it"
                else:
                    assert not any(overlaps(box, m, 2) for m in marks), f"{text!r} shown under {marks}"
        await browser.close()
    assert seen_covered, "the pursuer's name met no place name: the test did not test"


@pytest.fixture
async def finished_race(redis_server, redis, paris) -> AsyncIterator[str]:
    """A race of 150 runners played to its end at 300× (every runner home), then served."""
    store = Store(redis, paris)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=300.0)
    await store.set_clock(clock)
    ingest = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
    await ingest.start()
    try:
        await simulate(paris, "127.0.0.1", ingest.port, clock=clock, first_gun=clock.now() + 5, runners=150)
        async with running_uvicorn(create_app(paris, redis_server.url)) as base:
            yield base
    finally:
        await ingest.close()


async def test_a_followed_runner_after_the_race_shows_his_margin_at_the_line(finished_race: str):
    """After the race a spectator's card says by how much his runner beat the pursuer (or finished
    after him), as the results do, and no longer a gap to a pursuer who has stopped."""
    import httpx

    chromium = require_chromium()
    from playwright.async_api import async_playwright

    async with httpx.AsyncClient(base_url=finished_race) as http:

        async def first_state() -> dict | None:
            r = await http.get("/api/state")
            return r.json() if r.status_code == 200 else None

        state = await eventually(first_state, timeout_s=15)
        assert state["pursuer"]["status"] == "finished", state["pursuer"]
        won = (await http.get("/api/runners", params={"status": "won", "limit": 1})).json()["runners"][0]["bib"]
        lost = (await http.get("/api/runners", params={"status": "caught", "limit": 1})).json()["runners"][0]["bib"]
        winner, loser = [(await http.get(f"/api/runners/{bib}")).json() for bib in (won, lost)]
    assert winner["finish"] and loser["finish"], "both home"
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        await context.add_init_script(f"localStorage.setItem('pursuit.follow', '{json.dumps([won, lost])}')")
        page = await open_page(context, finished_race, "/follow", errors)
        cards = {}
        for bib in (won, lost):
            await page.wait_for_selector(f".card[data-bib='{bib}'] .card-status", timeout=15000)
            cards[bib] = await page.inner_text(f".card[data-bib='{bib}']")
        await browser.close()
    assert errors == []
    for bib, person, said in ((won, winner, "beat him by "), (lost, loser, "finished ")):
        m = abs(person["margin_s"])
        whole = math.floor(m + 0.5)  # as the page rounds (JavaScript's Math.round), not to even
        by = f"{m:.2f} s" if m < 10 else f"{whole // 60}:{whole % 60:02d}"
        assert said + by in cards[bib], f"bib {bib} ({person['status']}, margin {person['margin_s']}): {cards[bib]}"
        assert "gap to the pursuer" not in cards[bib], cards[bib]
    assert "after him" in cards[lost]


async def test_a_followed_bib_not_in_the_race_says_so(no_data_yet: str):
    """A bib kept in this browser's follow list that the race does not have (last year's race on the
    same address, or a bib typed into the storage) says so on its card, not 'waiting' for ever."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        await context.add_init_script("localStorage.setItem('pursuit.follow', '[\"99999\"]')")
        page = await context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(no_data_yet + "/follow")
        await page.wait_for_function("document.querySelector('#conn')?.innerText === 'live'", timeout=20000)
        await page.wait_for_function("window.pursuit.roster() !== null", timeout=10000)
        await two_refreshes(page)
        assert await page.inner_text(".card[data-bib='99999'] .card-line") == "no runner with bib 99999 in this race"
        await browser.close()
    assert errors == []


async def test_race_control_shows_the_whole_mat_table_on_a_1600_pixel_screen(no_data_yet: str):
    """Every column of the mat table (the decoder clock last) is on the screen, not behind a
    horizontal scrollbar that a big screen across the room never shows; the panels beside it keep
    room for their tables."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        await page.goto(no_data_yet + "/")
        await page.wait_for_selector("#mat-table table", timeout=20000)
        panels = await page.evaluate(
            "() => [...document.querySelectorAll('.row-tables > .panel')].map((e) => [e.clientWidth, e.scrollWidth])"
        )
        await browser.close()
    assert len(panels) == 3, panels
    (_, _), (mats_width, mats_needs), (_, _) = panels
    assert mats_needs <= mats_width, f"the mat table is cut off: {panels}"
    assert all(width >= 400 for width, _ in panels), f"a panel is squeezed: {panels}"


async def test_the_mat_table_tells_a_quiet_mat_from_a_lost_one(redis_server, redis, paris):
    """Race control's mat table and map: online (read in the last 2 minutes), quiet (connected, nothing
    read since: every mat before the field arrives, not an alarm), disconnected (its reader gone after
    reading: the alarm) and not seen, each in its own colour."""
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.redis.hset(store.keys.mat("start"), mapping={"connected": 1, "reads": 40, "last_read_wall": now})
    await store.set_connected("marbeuf", 1)
    await store.redis.hset(store.keys.mat("concorde"), mapping={"connected": 0, "reads": 12, "last_read_wall": now})
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    async with running_uvicorn(create_app(paris, redis_server.url)) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        await page.goto(base + "/")
        await page.wait_for_selector("#mat-table table", timeout=20000)
        states = dict(
            await page.evaluate(
                """() => [...document.querySelectorAll('#mat-table tbody tr')].map((tr) =>
                     [tr.cells[0].innerText, [tr.cells[1].innerText, tr.cells[1].className]])"""
            )
        )
        # the map may be drawn after the first poll of /api/mats has filled the table: its marks are
        # coloured at the next poll
        mats_trace = "document.querySelector('#map .js-plotly-plot')?.data?.find((d) => d.name === 'mats')"
        await page.wait_for_function(f"Array.isArray({mats_trace}?.marker?.color)", timeout=20000)
        colours = await page.evaluate(
            """() => { const t = document.querySelector('#map .js-plotly-plot').data.find((d) => d.name === 'mats');
                       return Object.fromEntries(t.customdata.map((id, i) => [id, t.marker.color[i]])); }"""
        )
        await browser.close()
    assert states == {
        "start": ["online", "mat-online"],
        "marbeuf": ["quiet", "mat-quiet"],
        "concorde": ["disconnected", "mat-disconnected"],
        "george-v": ["not seen", "mat-not-seen"],
        "finish": ["not seen", "mat-not-seen"],
    }
    assert colours["start"] != colours["marbeuf"] != colours["concorde"] != colours["george-v"]
    assert colours["concorde"] == "#d62728" and colours["marbeuf"] != "#d62728", "red is for a lost mat only"


async def test_a_caught_runner_is_said_to_be_behind_the_pursuer(one_caught: tuple[str, str]):
    """A caught runner's card says how far behind the pursuer he is, in metres and seconds, not a
    negative gap with a time of 0:00."""
    import httpx

    chromium = require_chromium()
    from playwright.async_api import async_playwright

    base, bib = one_caught
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        await context.add_init_script(f"localStorage.setItem('pursuit.follow', '[\"{bib}\"]')")
        page = await open_page(context, base, "/follow", errors)
        card = f".card[data-bib='{bib}']"
        await page.wait_for_selector(f"{card} .card-status", timeout=15000)
        await two_refreshes(page)
        async with httpx.AsyncClient(base_url=base) as http:
            runner = (await http.get(f"/api/runners/{bib}")).json()
        text = await page.inner_text(card)
        await browser.close()
    assert errors == []
    assert runner["status"] == "caught" and runner["gap_m"] < -500 and runner["gap_s"] < -60, runner
    line = next(x for x in text.splitlines() if "pursuer" in x)
    metres, seconds = line.removeprefix("behind the pursuer: ").removesuffix(")").replace(",", "").split(" m (")
    assert abs(int(metres) + runner["gap_m"]) < 20, f"{line!r} vs {runner['gap_m']} m"  # a tick apart at most
    minutes, secs = seconds.split(":")
    assert abs(60 * int(minutes) + int(secs) + runner["gap_s"]) < 5, f"{line!r} vs {runner['gap_s']} s"
