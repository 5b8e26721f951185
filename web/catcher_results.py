"""A catcher-car race's runner fields (``[race] outcome = "distance"``): where the car passed each runner
(``caught_at_m``) and his predicted catch (its results CSV: ``web/results_csv.py``)."""

from __future__ import annotations

import math
from typing import Any

from live.chase.snapshot import Snapshot
from live.engine.engine import LiveEngine
from web.http import iso_time, num


def caught_at(snap: Snapshot, i: int) -> float | None:
    """Where the car passed runner ``i`` (metres), None if it has not (or not a catcher-car race)."""
    a = snap.caught_at_m
    return None if a is None or not math.isfinite(a[i]) else num(float(a[i]))


def predicted_catch(snap: Snapshot, i: int) -> dict[str, Any] | None:
    """Where the car is predicted to pass runner ``i``: median and band at ``level``; None if not out."""
    m, lo, hi = snap.predicted_catch_m, snap.catch_low_m, snap.catch_high_m
    if m is None or lo is None or hi is None or not math.isfinite(m[i]):
        return None
    return {
        "at_m": num(float(m[i])),
        "low": num(float(lo[i])),
        "high": num(float(hi[i])),
        "level": snap.chase()[1].level,
    }


def detail_fields(engine: LiveEngine, snap: Snapshot, i: int) -> dict[str, Any]:
    """What a catcher-car race's runner detail says instead of the chase's catch: where he was caught
    (``caught``: at_m and time) and, while he runs, his predicted catch."""
    at = caught_at(snap, i)
    caught = None
    if at is not None and snap.caught_time is not None:
        caught = {"at_m": at, "time": iso_time(float(snap.caught_time[i]), engine.race.timezone)}
    return {"caught_at_m": at, "caught": caught, "predicted_catch": predicted_catch(snap, i), "catch": None}
