"""The live engine's own bookkeeping, against a real Redis."""

from __future__ import annotations

import time

from live.clock import RaceClock
from live.engine.engine import HISTORY_STEP_S, LiveEngine
from live.store.store import RawRead, Store


async def test_the_forecast_history_starts_with_the_first_runner(redis, paris):
    """Before anyone has started there is nothing to forecast (the screens say "–"), so the
    history race control charts has no point then: its first is the first tick with a runner out,
    not the 3,599 winners a race with no start yet "forecasts"."""
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    engine = LiveEngine(paris, store)
    snap = await engine.refresh()
    assert snap.counts["started"] == 0 and list(engine.forecast_history) == []
    await store.record_gun(now - 30)
    runner = paris.participants[3]
    await store.apply_reads([RawRead("start", runner.chips[0], now - 25)], wall_s=now)
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=now + HISTORY_STEP_S, speed=1.0))
    snap = await engine.refresh()
    assert snap.counts["started"] == 1
    assert [h[0] for h in engine.forecast_history] == [snap.now]
