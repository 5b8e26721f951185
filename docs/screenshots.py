"""The README's screenshots, taken in real time from a running demo, in French (the Paris race's
language) with the page's EN switch in the header:

    pursuit demo --speed 8 --port 8731 &
    python docs/screenshots.py http://127.0.0.1:8731 --at-km 2.75

waits until the pursuer has run ``--at-km`` (mid-chase: catches on the map, the forecast moving),
then photographs race control, /follow (three runners followed: one caught, two ahead) and
/commentary at 1600×1000, and /follow on a phone (390×844, twice the pixels), into docs/img/.
Needs Playwright and Debian's chromium (the test dependencies)."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
import urllib.request
from pathlib import Path

IMG = Path(__file__).resolve().parent / "img"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]


def get(base: str, path: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def wait_for_the_pursuer(base: str, at_km: float) -> None:
    while True:
        try:
            if (get(base, "/api/state")["pursuer"]["distance_m"] or 0) >= 1000 * at_km:
                return
        except OSError:  # the demo is still starting (or has no state yet: 503)
            pass
        time.sleep(2)


def followed(base: str) -> list[str]:
    caught = get(base, "/api/runners?status=caught&limit=1")["runners"]
    ahead = get(base, "/api/runners?status=ahead&limit=200")["runners"]
    ahead.sort(key=lambda r: abs(r["gap_m"] or 1e9))  # one close to him, one far ahead
    return [r["bib"] for r in caught[:1] + ahead[:1] + ahead[-1:]]


async def shoot(base: str) -> None:
    from playwright.async_api import async_playwright

    bibs = followed(base)
    follow = f"localStorage.setItem('pursuit.follow', {json.dumps(json.dumps(bibs))})"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        shots = (
            ("race-control.png", "/", {"width": 1600, "height": 1000}, 1, False),
            ("follow.png", "/follow", {"width": 1600, "height": 1000}, 1, False),
            ("commentary.png", "/commentary", {"width": 1600, "height": 1000}, 1, False),
            ("follow-phone.png", "/follow", {"width": 390, "height": 844}, 2, True),
        )
        for name, path, viewport, scale, whole in shots:
            context = await browser.new_context(locale="fr-FR", viewport=viewport, device_scale_factor=scale)
            await context.add_init_script(follow)
            page = await context.new_page()
            await page.goto(base + path)
            await page.wait_for_function("document.querySelector('#conn')?.innerText === 'en direct'", timeout=60000)
            n = await page.evaluate("window.pursuit.refreshes")
            await page.wait_for_function(f"window.pursuit.refreshes >= {n + 6}", timeout=30000)  # 3 s of live
            if path == "/":
                await page.wait_for_function("document.querySelector('#kpi-started')?.innerText !== '–'")
            await page.screenshot(path=str(IMG / name), full_page=whole)
            await context.close()
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the demo's URL, e.g. http://127.0.0.1:8731")
    parser.add_argument("--at-km", type=float, default=2.75, help="the pursuer's distance to wait for (km)")
    args = parser.parse_args()
    wait_for_the_pursuer(args.base.rstrip("/"), args.at_km)
    asyncio.run(shoot(args.base.rstrip("/")))


if __name__ == "__main__":
    main()
