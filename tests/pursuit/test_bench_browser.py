"""``pursuit bench browser`` runs end to end (its figures are for the docs, not asserted here)."""

from __future__ import annotations

import pytest

from tests.helpers import require_chromium

pytestmark = pytest.mark.browser


def test_bench_browser_draws_every_runner_and_takes_ticks():
    require_chromium()
    from pursuit.bench.browser import bench_browser

    result = bench_browser((300,), seconds=2.5)
    (run,) = result["results"]
    assert run["drawn"] == 300, "every runner of the generated field is on the map"
    assert run["ticks_received"] >= 1, "the live feed ticked while we watched"
    assert run["redraw"]["n"] >= 2 and run["animation_frame_interval"]["n"] > 10
    assert result["baseline_empty_page_animation_frame_interval"]["n"] > 10
    phone = run["phone_opens_follow"]
    parts = phone["by_part"]
    assert phone["total_bytes"] == sum(parts.values())
    assert parts["pursuit_assets"] > 0 and parts["roster"] > 0, "every response of the page load is counted"
    assert parts["page_html_and_other"] > 0 and "dash_framework" not in parts, "/follow is a plain page"
    assert parts["live_feed_ws"] > 0, "and the live feed's snapshot"
