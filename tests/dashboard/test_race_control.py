"""The dashboard's pure parts: KPI texts, tables and panels built from a hand-made snapshot."""

from __future__ import annotations

import re

import numpy as np

from dashboard.app import race_meta
from dashboard.figures import (
    course_samples,
    kpi_texts,
    margin_histogram,
    next_to_be_caught,
    pen_forecast_figure,
    schedule_delta_s,
)
from i18n.catalogue import language
from live.chase.chase import CLASSES
from live.chase.snapshot import STATUSES, Forecast, PursuerState, Snapshot


def snapshot(paris, *, status="running", distance_m=1234.0, start=0.0, now=3725.0) -> Snapshot:
    n = 4
    code = STATUSES.index
    return Snapshot(
        now=now, elapsed_s=3725.0,
        pursuer=PursuerState("1", status, distance_m, 0.0, 0.0, 173.0, start, None),
        bibs=np.array(["110", "111", "112", "113"]), pens=np.array(["1", "1", "2", "5"]),
        status=np.array([code("ahead"), code("ahead"), code("caught"), code("ahead")], dtype=np.int8),
        distance_m=np.array([2000.0, 1500.0, 1200.0, 1300.0]), lat=np.zeros(n), lon=np.zeros(n),
        gap_m=np.array([766.0, 266.0, -34.0, 66.0]), gap_s=np.zeros(n),
        margin_s=np.array([120.0, -40.0, np.nan, -250.0]),
        catch_at_m=np.array([np.nan, 2100.0, np.nan, 1500.0]), catch_in_s=np.array([np.nan, 95.0, np.nan, 20.0]),
        overdue=np.zeros(n, dtype=bool),
        counts={"started": 1200, "ahead": 3, "caught": 2, "won": 1},
        forecast=Forecast(winners=1018, low=950, high=1100, quota=500,
                          by_pen={"1": {"runners": 2, "won": 1, "winners": 1, "low": 1, "high": 2}}, at_plan=1040),
        margin_class=np.array([CLASSES.index(c) for c in ("safe", "at_risk", "caught", "doomed")], dtype=np.uint8),
    )  # fmt: skip


def test_kpis_are_plain_text(paris):
    texts = kpi_texts(paris, snapshot(paris))
    assert texts["kpi-clock"] == "1:02:05"
    assert texts["kpi-pursuer"] == "1.23 km · 2:53/km · running"
    assert texts["kpi-started"] == "1,200"
    assert texts["kpi-forecast"] == "1,018 (950–1,100 at 80%) / quota 500 · at his plan 1,040"


def test_kpis_and_tables_in_french(paris):
    """Race control's server-side numbers as French writes them: "1 200", "1,23 km", "80 %"."""
    fr, nnbsp = language("fr"), "\u202f"
    texts = kpi_texts(paris, snapshot(paris), fr)
    assert texts["kpi-pursuer"] == "1,23 km · 2:53/km · en course"
    assert texts["kpi-started"] == f"1{nnbsp}200"
    assert texts["kpi-forecast"] == (f"1{nnbsp}018 (950–1{nnbsp}100 à 80\u00a0%) / quota 500 · à son plan 1{nnbsp}040")
    assert next_to_be_caught(paris, snapshot(paris), lang=fr)[0]["at"] == "1,50 km"
    figure = margin_histogram(snapshot(paris), fr)
    assert figure.layout.title.text == "Marges des 3 coureurs sur le parcours"


def test_pursuer_against_his_plan(paris):
    # 1,234 m at 2:53/km is planned for 213.5 s; he took 200 s: 13.5 s up on his plan
    snap = snapshot(paris, distance_m=1234.0, start=1000.0, now=1200.0)
    assert schedule_delta_s(paris, snap) == np.float64(1.234 * 173 - 200)
    assert kpi_texts(paris, snap)["kpi-schedule"] == "+0:13 vs plan"
    slow = snapshot(paris, distance_m=1000.0, start=1000.0, now=1200.0)
    assert kpi_texts(paris, slow)["kpi-schedule"] == "−0:27 vs plan"
    waiting = snapshot(paris, status="waiting", distance_m=0.0, start=1300.0, now=1200.0)
    assert schedule_delta_s(paris, waiting) is None
    assert kpi_texts(paris, waiting)["kpi-schedule"] == "starts in 1:40"


def test_next_to_be_caught_is_ordered_by_time_to_catch(paris):
    rows = next_to_be_caught(paris, snapshot(paris))
    assert [r["bib"] for r in rows] == ["113", "111"], "soonest first; the caught and the safe are not listed"
    assert rows[0] == {
        "bib": "113", "name": paris.participant("113").name, "pen": "5", "at": "1.50 km", "in": "0:20", "gap": "66 m",
    }  # fmt: skip


def test_margin_histogram_counts_only_runners_on_the_course(paris):
    fig = margin_histogram(snapshot(paris))
    bar = fig.data[0]
    assert sum(bar.y) == 3, "the caught runner has no margin to show"
    assert "3 runners" in fig.layout.title.text
    by_bin = dict(zip(bar.x, bar.y, strict=True))
    assert by_bin[130.0] == 1 and by_bin[-30.0] == 1 and by_bin[-250.0] == 1


def test_an_empty_margin_histogram_says_why(paris):
    """After the race (and before it) nobody is out racing the pursuer: the chart says so instead of
    showing an empty frame with a −1…1 axis."""
    code = STATUSES.index
    over = snapshot(paris, status="finished", distance_m=5000.0)
    over.status[:] = [code("won"), code("caught"), code("caught"), code("won")]
    over.margin_class[:] = [CLASSES.index(c) for c in ("won", "caught", "caught", "won")]
    fig = margin_histogram(over)
    assert sum(fig.data[0].y) == 0 and "0 runners" in fig.layout.title.text
    assert [a.text for a in fig.layout.annotations] == ["every runner has won, been caught or stopped"]
    before = snapshot(paris, status="waiting", distance_m=0.0)
    before.status[:] = code("registered")
    before.margin_class[:] = CLASSES.index("registered")
    before.counts["started"] = 0
    assert [a.text for a in margin_histogram(before).layout.annotations] == ["no runner has started yet"]
    assert margin_histogram(snapshot(paris)).layout.annotations == (), "a chart with bars needs no words"


def test_pen_forecast_bars(paris):
    fig = pen_forecast_figure(paris, snapshot(paris))
    forecast, won = fig.data
    assert list(forecast.x) == [p.name for p in paris.pens]
    assert forecast.y[0] == 1 and won.y[0] == 1 and forecast.error_y.array[0] == 1
    assert all(v == 0 for v in forecast.y[1:]), "pens without a forecast show zero, not an error"


def test_browser_gets_the_course_and_the_race(paris):
    import json

    samples = json.loads(course_samples(paris))
    assert samples["d"][0] == 0 and samples["d"][-1] == paris.distance_m
    assert len(samples["d"]) == len(samples["x"]) == len(samples["y"]) == paris.distance_m // 5 + 1
    steps = np.diff(samples["d"])
    assert np.allclose(steps, steps[0], atol=0.05), "evenly spaced: the browser indexes by distance / step"
    meta = race_meta(paris)
    assert meta["timing_at_m"] == sorted(meta["timing_at_m"]) and 400 in meta["timing_at_m"]
    assert len(meta["colours"]) == len(CLASSES) == len(meta["classes"])


async def test_first_visit_to_any_page_gets_the_scripts(redis_server, redis, paris):
    import httpx

    from pursuit.web import create_app
    from tests.helpers import running_uvicorn

    async with running_uvicorn(create_app(paris, redis_server.url)) as base, httpx.AsyncClient() as client:
        page = await client.get(base + "/follow")  # the first request this server sees
        assert page.status_code == 200
        scripts = re.findall(r'src="/static/[0-9a-f]{16}/([^"]+)"', page.text)
        # the page's dictionary first (the race's language: no Accept-Language), then the page's scripts
        assert scripts == ["i18n-fr-spectator.js", "chart.js", "map.js", "pursuit.js"], scripts  # no console.js
        assert re.search(r'href="/static/[0-9a-f]{16}/style.css"', page.text)
        assert "_dash" not in page.text and "plotly" not in page.text  # a plain page: no Dash, no plotly
        assert page.headers["cache-control"] == "no-cache" and page.headers["etag"]
        same = await client.get(base + "/follow", headers={"if-none-match": page.headers["etag"]})
        assert same.status_code == 304, "a returning phone revalidates the page"
        english = await client.get(base + "/follow?lang=en")
        assert english.headers["etag"] != page.headers["etag"] and "Find a runner" in english.text
        assert "Find a runner" not in page.text, "the race's language (French) by default"
        client.cookies.clear()  # the switch's choice (?lang=en) is remembered in a cookie
        commentary = (await client.get(base + "/commentary")).text
        assert re.findall(r'src="/static/[0-9a-f]{16}/([^"]+)"', commentary)[1:] == [
            "plotly-basic.min.js",
            "map.js",
            "pursuit.js",
        ]
        assert "/dash_table/" not in commentary and "/assets/" not in commentary  # no DataTable bundle
        control = (await client.get(base + "/")).text
        assert re.findall(r'src="/static/[0-9a-f]{16}/([^"]+)"', control) == [
            "i18n-fr-control.js",
            "plotly-basic.min.js",
            "console.js",
            "map.js",
            "pursuit.js",
        ]
        script = re.search(r'src="(/static/[0-9a-f]{16}/pursuit.js)"', page.text)
        assert script
        got = await client.get(base + script[1], headers={"accept-encoding": "gzip"})
        assert got.status_code == 200 and got.headers["content-encoding"] == "gzip"
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = await client.get(base + script[1], headers={"if-none-match": got.headers["etag"]})
        assert again.status_code == 304
        stale = await client.get(base + "/static/0000000000000000/pursuit.js")
        assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
        layout = await client.get(base + "/_dash-layout")
        revalidated = await client.get(base + "/_dash-layout", headers={"if-none-match": layout.headers["etag"]})
        assert revalidated.status_code == 304


def test_on_plan_is_said_without_a_sign(paris):
    snap = snapshot(paris, distance_m=1000.0, start=1000.0, now=1173.2)
    assert kpi_texts(paris, snap)["kpi-schedule"] == "on plan"
