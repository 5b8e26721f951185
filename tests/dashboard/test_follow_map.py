"""/follow's own map (``assets/chart.js``, no plotly) in a real headless Chromium: the wheel zooms about
the pointer, a drag pans, the view is kept while the page refreshes, a double-click zooms in, the
buttons zoom and show the whole course again, and the course is drawn on its canvas."""

from __future__ import annotations

import pytest

from tests.helpers import CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.browser

FRAME_JS = "() => window.pursuitMap.frame(document.querySelector('#map .course-map'))"
# pixels of the course's colour (#1f3b73) on its canvas
COURSE_INK_JS = """() => {
  const c = document.querySelector('#map canvas.course-layer');
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i] === 31 && px[i + 1] === 59 && px[i + 2] === 115) n++;
  return n;
}"""


def at(frame: dict, px: float, py: float) -> tuple[float, float]:
    """The map point (metres) under pixel (px, py) of the map."""
    return frame["x0"] + (px - frame["l"]) / frame["kx"], frame["y1"] - (py - frame["t"]) / frame["ky"]


async def test_the_wheel_zooms_a_drag_pans_and_the_view_is_kept(no_data_yet: str):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1200, "height": 800})
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(no_data_yet + "/follow")
        await page.wait_for_function("window.pursuitMap && window.pursuitMap.state().placed > 0", timeout=15000)
        assert await page.evaluate(COURSE_INK_JS) > 500, "the course is drawn"
        box = await page.locator("#map .course-map").bounding_box()
        assert box
        first = await page.evaluate(FRAME_JS)
        assert first["kx"] == first["ky"] > 0, "a metre is as many pixels across as up"
        x, y = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4
        local = (x - box["x"], y - box["y"])
        await page.mouse.move(x, y)
        await page.mouse.wheel(0, -400)
        await page.wait_for_function(f"({FRAME_JS})().kx > {first['kx'] * 1.5}", timeout=5000)
        zoomed = await page.evaluate(FRAME_JS)
        before, after = at(first, *local), at(zoomed, *local)
        assert abs(before[0] - after[0]) < 1 and abs(before[1] - after[1]) < 1, "the point under the pointer stays"
        await page.mouse.down()
        await page.mouse.move(x - 100, y + 50, steps=5)
        await page.mouse.up()
        panned = await page.evaluate(FRAME_JS)
        assert panned["kx"] == zoomed["kx"]
        assert abs((panned["x0"] - zoomed["x0"]) * zoomed["kx"] - 100) < 1, "dragged left: the map moves with it"
        assert abs((panned["y1"] - zoomed["y1"]) * zoomed["kx"] - 50) < 1, "dragged down: so does the map"
        await page.wait_for_timeout(1200)  # two refreshes of the page and of the labels
        assert await page.evaluate(FRAME_JS) == panned, "the view is kept"
        await page.mouse.dblclick(x, y)
        assert (await page.evaluate(FRAME_JS))["kx"] == pytest.approx(2 * panned["kx"])
        await page.focus(".map-zoom [data-zoom='fit']")  # the buttons, for a keyboard
        await page.keyboard.press("Enter")
        assert await page.evaluate(FRAME_JS) == first, "back to the whole course"
        await page.click(".map-zoom [data-zoom='in']")
        assert (await page.evaluate(FRAME_JS))["kx"] == pytest.approx(2 * first["kx"])
        await browser.close()
    assert errors == []
