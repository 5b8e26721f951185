"""The map reads at every moment of a race: on the three pages, at 1600×1000 and on a 390×844 phone,
sampled at three moments of a simulated race at 60× (the field spreading over the course), no label
overlaps another, and no label sits over a runner's dot."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import CHROMIUM_ARGS, open_page, require_chromium
from tests.helpers.browser import GRAPH, settled_map

pytestmark = pytest.mark.browser

# every shown label's turned box (as MAP_JS in tests/helpers/browser.py) and the runners' dots painted inside the
# plot area that fall inside one of them (1 px in from its edge)
UNDER_DOTS_JS = """() => {
  const gd = document.querySelector('GRAPH'), g = gd.getBoundingClientRect();
  const v = window.pursuit.view, size = window.pursuitMap.frame(gd), hits = [];
  const inside = (pts, x, y) => pts.every((a, i) => { const b = pts[(i + 1) % 4];
    return (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]) >= 1 * Math.hypot(b[0] - a[0], b[1] - a[1]); });
  for (const el of gd.querySelectorAll('.map-label')) {
    if (getComputedStyle(el).display === 'none') continue;
    const w = el.offsetWidth, h = el.offsetHeight, m = new DOMMatrix(getComputedStyle(el).transform);
    const layer = el.parentElement.getBoundingClientRect();
    const pts = [[0, 0], [w, 0], [w, h], [0, h]].map(([x, y]) => {
      const p = m.transformPoint(new DOMPoint(x - w / 2, y - h / 2));
      return [layer.left + w / 2 + p.x, layer.top + h / 2 + p.y];
    });
    let n = 0;
    for (let r = 0; r < v.painted; r++) {
      const x = v.px[r], y = v.py[r];
      if (x < size.l || x > size.l + size.w || y < size.t || y > size.t + size.h) continue;
      if (inside(pts, g.left + x, g.top + y)) n++;
    }
    if (n) hits.push([el.textContent, n]);
  }
  return {hits, painted: v.painted};
}""".replace("GRAPH", GRAPH)


async def test_no_label_overlaps_another_or_a_runner_at_three_moments(site: str):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    errors: list[str] = []
    found: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        pages = []
        for viewport in ({"width": 1600, "height": 1000}, {"width": 390, "height": 844}):
            context = await browser.new_context(viewport=viewport)
            for path in ("/", "/follow", "/commentary"):
                page = await open_page(context, site, path, errors)
                await page.wait_for_function("window.pursuitMap && window.pursuitMap.state().placed > 0", timeout=15000)
                pages.append((f"{path} at {viewport['width']}×{viewport['height']}", page))
        painted = []
        for moment in range(3):  # 0, ~8 and ~16 race minutes after the pages opened
            if moment:
                await asyncio.sleep(8)
            for where, page in pages:
                got = await settled_map(page)
                if got["overlaps"]:
                    found.append(f"{where}, moment {moment}: labels overlap: {got['overlaps']}")
                under = await page.evaluate(UNDER_DOTS_JS)
                painted.append(under["painted"])
                if under["hits"]:
                    found.append(f"{where}, moment {moment}: labels over runners: {under['hits']}")
        await browser.close()
    assert min(painted) > 0, "the runners were drawn"
    assert found == [], "\n".join(found)
    assert errors == []
