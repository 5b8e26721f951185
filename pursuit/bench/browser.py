"""``pursuit bench browser``: what the dashboard costs in a real Chromium with N runners at 1 Hz.

For each field size: a generated Paris race (``common.race_with_runners``), a private Redis, the web
app under real uvicorn, and every runner's passings written as race time passes (so the live feed
sends sparse 1 Hz ticks with new passings, as on race day). Headless Chromium (Debian's, software
GL) opens a page and, after every runner is drawn, records for ``seconds``: the time of each
``redraw`` (move every runner to now and paint), the interval between animation frames, long tasks
(> 50 ms on the main thread) and the ticks received. Baseline, same run: the animation-frame
interval of an empty page in the same browser.

Then what a joining phone downloads: a fresh browser context (empty cache) at 390×844 opens
``/follow`` and every response body (as sent, gzip where the server compressed it) and WebSocket
message is counted until every runner is drawn, by part (``WEIGHT_PARTS``); then the same phone
opens it again (``returning``: what its cache and the validators save).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from live.clock import RaceClock
from live.race.race import Race
from live.reads import RawRead
from live.store.store import Store
from pursuit.bench.common import machine, race_with_runners
from pursuit.redis_server import RedisServer, free_port
from pursuit.serve import uvicorn_server

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic"]
RACE_MINUTE = 20.0  # minutes after the first gun when the page opens: every pen out, the pursuer running
WATCH_JS = """() => {
  window.__raf = []; window.__long = [];
  let last = performance.now();
  const step = (t) => { window.__raf.push(t - last); last = t; requestAnimationFrame(step); };
  requestAnimationFrame(step);
  try {
    new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration)))
      .observe({ type: "longtask", buffered: false });
  } catch (e) { /* no long-task API */ }
  window.pursuit.frames.length = 0;
  return window.pursuit.state.seq;
}"""
COLLECT_JS = """() => ({ frames: window.pursuit.frames.slice(), raf: window.__raf.slice(1),
  long: window.__long.slice(), seq: window.pursuit.state.seq, painted: window.pursuit.view.painted })"""


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
WEIGHT_PARTS = (  # (part, URL path prefix): the first that matches names a response
    ("basemap", "/map/"),
    ("dash_framework", "/_dash-component-suites/"),
    ("dash_layout_and_callbacks", "/_dash-"),
    ("pursuit_assets", "/assets/"),
    ("pursuit_assets", "/static/"),
    ("roster", "/api/roster"),
    ("api_other", "/api/"),
)


def _part(path: str) -> str:
    return next((name for name, prefix in WEIGHT_PARTS if path.startswith(prefix)), "page_html_and_other")


async def page_weight(browser: Any, url: str, ready_js: str) -> dict[str, Any]:
    """Bytes a phone with an empty cache downloads to open ``url`` until ``ready_js`` holds: response
    bodies as sent (compressed where the server compressed them) plus headers, and the WebSocket
    messages received, by part."""
    from urllib.parse import urlsplit

    context = await browser.new_context(**PHONE)
    parts: dict[str, int] = {}
    pending: list[asyncio.Task[Any]] = []

    async def count(request: Any) -> None:
        try:
            sizes = await request.sizes()
        except Exception:  # finished as its page closed: counted by nobody (a few hundred bytes at most)
            return
        part = _part(urlsplit(request.url).path)
        parts[part] = parts.get(part, 0) + sizes["responseBodySize"] + sizes["responseHeadersSize"]

    def on_frame(payload: str | bytes) -> None:
        size = len(payload.encode() if isinstance(payload, str) else payload)
        parts["live_feed_ws"] = parts.get("live_feed_ws", 0) + size

    context.on("requestfinished", lambda request: pending.append(asyncio.ensure_future(count(request))))
    visits = []
    for _ in ("first", "returning"):  # the same browser (its HTTP cache) opens the page again
        parts.clear()
        page = await context.new_page()
        page.on("websocket", lambda ws: ws.on("framereceived", on_frame) if "/ws/live" in ws.url else None)
        await page.goto(url)
        await page.wait_for_function(ready_js, timeout=120_000)
        while pending:  # what is still in flight once the runners are drawn counts too
            await asyncio.sleep(0.5)
            done, pending[:] = pending[:], []
            await asyncio.gather(*done)
        await page.close()
        visits.append(
            {"total_bytes": sum(parts.values()), "by_part": dict(sorted(parts.items(), key=lambda kv: -kv[1]))}
        )
    await context.close()
    return {**visits[0], "returning": visits[1]}


def _stats(samples: list[float]) -> dict[str, float | int]:
    if not samples:
        return {"n": 0}
    a = np.asarray(samples, dtype=float)
    return {
        "n": len(a),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
    }


def crossings(race: Race, first_gun: float) -> list[RawRead]:
    """Every runner's read at every timing point at his declared pace, in time order."""
    gun = {p.id: first_gun + (p.planned_start - race.pens[0].planned_start).total_seconds() for p in race.pens}
    reads = []
    for person in race.participants:
        if person.bib == race.pursuer_bib or person.declared_s is None:
            continue
        start = gun[person.pen] + int(person.bib) % 60  # the pen takes a minute to cross
        for tp in race.timing_points:
            reads.append(RawRead(tp.mat, person.chips[0], start + tp.at_m / race.distance_m * person.declared_s))
    reads.sort(key=lambda r: r.time)
    return reads


async def _feed_reads(store: Store, reads: list[RawRead], clock: RaceClock, stop: asyncio.Event) -> None:
    """Apply each read once race time has passed it, a batch a second."""
    i = 0
    while not stop.is_set() and i < len(reads):
        now = clock.now()
        j = i
        while j < len(reads) and reads[j].time <= now:
            j += 1
        if j > i:
            await store.apply_reads(reads[i:j], time.time())
            i = j
        await asyncio.sleep(0.5)


async def _one_size(browser: Any, runners: int, seconds: float, work: Path, redis_url: str) -> dict[str, Any]:
    from pursuit.web import create_app

    race = race_with_runners(runners, work / f"race-{runners}")
    redis = aioredis.Redis.from_url(redis_url)
    await redis.flushall()
    store = Store(redis, race)
    await store.setup()
    first_gun = time.time() - RACE_MINUTE * 60
    for pen in race.pens:
        await store.set_gun(
            f"pen:{pen.id}", first_gun + (pen.planned_start - race.pens[0].planned_start).total_seconds()
        )
    pursuer = race.require_pursuer("the browser benchmark")
    await store.set_gun("pursuer", first_gun + (pursuer.planned_start - race.pens[0].planned_start).total_seconds())
    clock = RaceClock(origin_wall=time.time(), origin_race=time.time(), speed=1.0)
    await store.set_clock(clock)
    stop = asyncio.Event()
    feeder = asyncio.create_task(_feed_reads(store, crossings(race, first_gun), clock, stop))
    port = free_port()
    server = uvicorn_server(create_app(race, redis_url), "127.0.0.1", port)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
            await asyncio.sleep(0.05)
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        await page.goto(f"http://127.0.0.1:{port}/follow")
        registered = len(race.participants) - 1
        try:
            await page.wait_for_function(
                f"window.pursuit && window.pursuit.view.painted === {registered}", timeout=120_000
            )
        except Exception as exc:
            state = await page.evaluate(
                "() => [document.querySelector('#conn')?.innerText, window.pursuit?.view.painted,"
                " window.pursuit?.state.n]"
            )
            raise RuntimeError(f"the page never drew {registered} runners (connection, drawn, known): {state}") from exc
        seq0 = await page.evaluate(WATCH_JS)
        await asyncio.sleep(seconds)
        got = await page.evaluate(COLLECT_JS)
        await page.close()
        drawn = f"window.pursuit && window.pursuit.view.painted === {registered}"
        phone = await page_weight(browser, f"http://127.0.0.1:{port}/follow", drawn)
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.gather(feeder, serving)
        await redis.aclose()
    long_tasks = got["long"]
    return {
        "runners": runners,
        "seconds": seconds,
        "ticks_received": got["seq"] - seq0,
        "redraw": _stats(got["frames"]),
        "animation_frame_interval": _stats(got["raf"]),
        "long_tasks": {"n": len(long_tasks), "total_ms": round(sum(long_tasks), 1)},
        "drawn": got["painted"],
        "phone_opens_follow": phone,
    }


async def _bench(sizes: tuple[int, ...], seconds: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("pursuit bench browser needs Debian's chromium: apt-get install chromium")
    results = []
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis", appendonly=False) as redis_server:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            blank = await browser.new_page()
            await blank.set_content("<p>baseline</p>")
            await blank.evaluate("() => { window.pursuit = {frames: [], state: {seq: 0}, view: {painted: 0}}; }")
            await blank.evaluate(WATCH_JS)
            await asyncio.sleep(min(seconds, 5.0))
            baseline = _stats((await blank.evaluate(COLLECT_JS))["raf"])
            await blank.close()
            for n in sizes:
                results.append(await _one_size(browser, n, seconds, Path(tmp), redis_server.url))
            await browser.close()
    for r in results:
        p50 = r["animation_frame_interval"].get("p50_ms")
        r["frame_interval_ratio_to_baseline"] = round(p50 / baseline["p50_ms"], 2) if p50 else None
    return {
        "bench": "browser",
        "machine": machine(),
        "browser": "Debian chromium, headless, software GL (swiftshader)",
        "page": "/follow (the spectators' map)",
        "baseline_empty_page_animation_frame_interval": baseline,
        "results": results,
        "note": "redraw = move every runner to now and paint the canvas; the page redraws every 500 ms",
        "median_redraw_ms": {str(r["runners"]): r["redraw"].get("p50_ms") for r in results},
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def bench_browser(sizes: tuple[int, ...] = (3_600, 40_000), seconds: float = 15.0) -> dict[str, Any]:
    """Frame cost of the live map in Chromium for each field size, with an empty-page baseline."""
    return asyncio.run(_bench(sizes, seconds))
