"""How far the forecast's sums drift when updated by differences alone (no full update), against a tick
from scratch, on Berlin 2017 from the pursuer's halfway: ``python -m pursuit.bench.tick_drift 1200``
(ticks; about 3 minutes on the 2-core machine). What ``live.forecast.win_rows.FULL_EVERY`` is chosen by."""

from __future__ import annotations

import sys

import numpy as np
from threadpoolctl import threadpool_limits

import live.forecast.win_rows as wr
from live.engine.tick import Tick
from pursuit.bench.tick import berlin
from simulator.evaluation import GUN


def drift(ticks: int) -> float:
    """The largest difference (winners) between the sums by differences and from scratch, at four
    points over ``ticks`` ticks a second apart (each printed)."""
    threadpool_limits(1, user_api="blas")  # as every pursuit command
    wr.FULL_EVERY = 10**9
    replay = berlin()
    engine, times, pursuer = replay.engine, replay.runner_times, replay.pursuer_times
    now = GUN + replay.moment_at(0.5) + 60  # past his halfway split
    engine.times = np.asfortranarray(np.where(times <= now, times, np.nan))
    engine.pursuer_times = np.where(pursuer <= now, pursuer, np.nan)
    engine.compute(now)
    worst = 0.0
    for i in range(1, ticks + 1):
        new = (times <= now + i) & (times > now + i - 1)
        engine.times[new] = times[new]
        engine.pursuer_times = np.where(pursuer <= now + i, pursuer, np.nan)
        engine.compute(now + i)
        if i % (ticks // 4) == 0:
            rows = engine.tick.rows
            scratch = Tick(engine.race, engine.model, incremental=False)
            scratch.compute(engine.passings(), now + i, None)
            d = float(np.abs(rows._mean - scratch.rows._mean).max())
            worst = max(worst, d)
            print(
                f"tick {i}: {rows.ticks} ticks by differences since the last full update; "
                f"max |sum - from scratch| = {d:.3g} winners; {int(rows._near.sum())} runners near the line",
                flush=True,
            )
    return worst


if __name__ == "__main__":
    print("worst", drift(int(sys.argv[1]) if len(sys.argv) > 1 else 1200))
