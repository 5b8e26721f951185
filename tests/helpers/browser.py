"""Browser tests: Debian's Chromium driven by Playwright; screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def require_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("PURSUIT_REQUIRE_BROWSER"):
        pytest.fail("chromium is not installed but PURSUIT_REQUIRE_BROWSER is set (CI): install Debian's chromium")
    pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")


async def open_page(browser, base: str, path: str, errors: list[str], init_script: str = ""):  # type: ignore[no-untyped-def]
    page = await browser.new_page()
    if init_script:
        await page.add_init_script(init_script)
    page.on("console", lambda m: errors.append(f"{path}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{path}: {e}"))
    page.on("dialog", lambda d: errors.append(f"{path}: a dialog opened: {d.message}"))
    await page.goto(base + path)
    await page.wait_for_function(
        "window.pursuit && document.querySelector('#conn')?.innerText === 'live'", timeout=30000
    )
    if path != "/commentary":  # the pages with a map: the runners are drawn
        await page.wait_for_function("window.pursuit.view.painted > 0", timeout=10000)
    return page


async def two_refreshes(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page has refreshed what it shows twice more (pursuit.js, every 500 ms)."""
    n = await page.evaluate("window.pursuit.refreshes")
    await page.wait_for_function(f"window.pursuit.refreshes >= {n + 2}", timeout=10000)


# In the page: what the map shows. Every visible label's box as rendered (its size turned by its CSS
# transform about its centre), the credit and the legend; pairs of boxes that overlap (separating-
# axis test); pixels of the basemap canvas in the water, park and street colours; the plot area
# against the graph and the graph against its panel (a blank band would show as a gap).
GRAPH = "#map .js-plotly-plot, #map .course-map"  # plotly's graph, or /follow's own map (assets/chart.js)
MAP_JS = """() => {
  const gd = document.querySelector('GRAPH'), g = gd.getBoundingClientRect();
  const boxes = [];
  for (const el of gd.querySelectorAll('.map-label')) {
    if (getComputedStyle(el).display === 'none') continue;
    const w = el.offsetWidth, h = el.offsetHeight, m = new DOMMatrix(getComputedStyle(el).transform);
    const layer = el.parentElement.getBoundingClientRect();
    const pts = [[0, 0], [w, 0], [w, h], [0, h]].map(([x, y]) => {
      const p = m.transformPoint(new DOMPoint(x - w / 2, y - h / 2));
      return [layer.left + w / 2 + p.x, layer.top + h / 2 + p.y];
    });
    boxes.push({text: el.textContent, kind: el.className, pts});
  }
  const legend = gd.querySelector('.legend .bg') || gd.querySelector('.legend');  // plotly's, or /follow's list
  for (const el of [gd.querySelector('.map-attribution'), legend]) {
    const r = el.getBoundingClientRect();
    boxes.push({text: el.textContent || 'legend', kind: 'furniture',
                pts: [[r.left, r.top], [r.right, r.top], [r.right, r.bottom], [r.left, r.bottom]]});
  }
  const axes = (b) => [0, 1].map((i) => { const [a, c] = [b.pts[i], b.pts[i + 1]];
    const len = Math.hypot(c[0] - a[0], c[1] - a[1]); return [-(c[1] - a[1]) / len, (c[0] - a[0]) / len]; });
  const proj = (b, ax) => b.pts.map((p) => p[0] * ax[0] + p[1] * ax[1]);
  const overlap = (a, b) => axes(a).concat(axes(b)).every((ax) => {
    const pa = proj(a, ax), pb = proj(b, ax);
    return Math.min(Math.max(...pa), Math.max(...pb)) - Math.max(Math.min(...pa), Math.min(...pb)) > 0.5; });
  const pairs = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++)
    if (overlap(boxes[i], boxes[j])) pairs.push([boxes[i].text, boxes[j].text]);
  const inside = boxes.every((b) => b.pts.every(([x, y]) => x >= g.left - 0.5 && x <= g.right + 0.5
    && y >= g.top - 0.5 && y <= g.bottom + 0.5));
  const canvas = gd.querySelector('canvas.basemap-layer'), ctx = canvas.getContext('2d');
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data, colours = {water: 0, park: 0, street: 0};
  for (let i = 0; i < px.length; i += 4) {
    const [r, gr, b] = [px[i], px[i + 1], px[i + 2]];
    if (r === 170 && gr === 211 && b === 223) colours.water++;
    else if (r === 205 && gr === 230 && b === 192) colours.park++;
    else if (r === 255 && gr === 255 && b === 255 || r === 255 && gr === 246 && b === 220) colours.street++;
  }
  const size = window.pursuitMap.frame(gd), panel = gd.closest('.panel-map, .follow-map').getBoundingClientRect();
  const z = (sel) => Number(getComputedStyle(gd.querySelector(sel)).zIndex);
  const svg = gd.querySelector('.main-svg, .course-layer');  // what draws the course: plotly's, or ours
  return {
    labels: boxes.filter((b) => b.kind !== 'furniture').map((b) => b.text), overlaps: pairs, inside, colours,
    credit: gd.querySelector('.map-attribution').innerText,
    plot: [size.w, size.h], graph: [gd.clientWidth, gd.clientHeight], canvas: [canvas.clientWidth, canvas.clientHeight],
    band: [Math.round(panel.bottom - g.bottom), Math.round(g.top - panel.top)],
    layers: {labels: z('.map-labels'), runners: z('.runners-layer'),
             basemapUnderPlot: !!(canvas.compareDocumentPosition(svg) & Node.DOCUMENT_POSITION_FOLLOWING)},
  };
}""".replace("GRAPH", GRAPH)


async def shown_box(locator, timeout_s: float = 5.0) -> dict:  # type: ignore[no-untyped-def]
    """The element's box once it is on the screen: one redrawn each tick is briefly not (None)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (box := await locator.bounding_box()) is None:
        assert asyncio.get_running_loop().time() < deadline, "the element never showed"
        await asyncio.sleep(0.05)
    return box  # type: ignore[no-any-return]


async def settled_map(page, timeout_s: float = 5.0) -> dict:  # type: ignore[no-untyped-def]
    """MAP_JS's report once the map has settled: a moment after its first drawing plotly may still be
    adding its layers or resizing the plot to its panel (seen on a loaded machine)."""
    from playwright.async_api import Error as PlaywrightError

    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        late = asyncio.get_running_loop().time() > deadline
        try:
            got: dict = await page.evaluate(MAP_JS)
        except PlaywrightError:
            if late:
                raise
        else:
            if late or got["plot"] == got["graph"] == got["canvas"]:
                return got
        await asyncio.sleep(0.1)
