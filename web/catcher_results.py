"""A catcher-car race's results and runner fields (``[race] outcome = "distance"``): where the car
passed each runner (``caught_at_m``), his predicted catch, and the results CSV ranked by distance."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from live.chase.places import listing_order
from live.chase.snapshot import CAUGHT, STATUSES, Snapshot
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


RESULT_COLUMNS = [
    "place",
    "bib",
    "name",
    "pen",
    "sex",
    "category",
    "status",
    "finish_time",
    "gun_s",
    "net_s",
    "margin_s",
    "distance_m",
    "caught_at_m",
    "caught_time",
    "win_probability",
    "place_sex",
    "place_category",
]


def distance_results_csv(engine: LiveEngine, snap: Snapshot, cell: Any) -> str:
    """The results of a catcher-car race: the columns of a chase's (then ``place_sex``, ``place_category``),
    ranked by where the car passed each runner, furthest first; a runner still running is ranked by
    where he is (ahead of everyone it passed). ``cell``: the CSV text guard for names."""
    race = engine.race
    people = [race.participant(str(b)) for b in snap.bibs]
    caught = snap.status == CAUGHT
    at = snap.caught_at_m if snap.caught_at_m is not None else np.full(len(snap.bibs), np.nan)
    places = engine.places()
    times = engine.used_times
    start_read = times[:, 0]
    guns = engine.guns
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RESULT_COLUMNS)
    for row in listing_order(places).tolist():
        p = people[row]
        assert p is not None
        gun = guns.get(f"pen:{p.pen}")
        t = float(snap.caught_time[row]) if caught[row] and snap.caught_time is not None else math.nan
        place = int(places.place[row])
        writer.writerow(
            [
                place or "",
                *map(cell, (p.bib, p.name, p.pen, p.sex, p.category)),
                STATUSES[int(snap.status[row])],
                "",
                f"{t - gun:.2f}" if gun is not None and math.isfinite(t) else "",
                f"{t - start_read[row]:.2f}" if math.isfinite(t) and not np.isnan(start_read[row]) else "",
                "",
                f"{snap.distance_m[row]:.1f}",
                f"{at[row]:.1f}" if caught[row] else "",
                iso_time(t, race.timezone) or "" if math.isfinite(t) else "",
                "",
                int(places.place_sex[row]) or "",
                int(places.place_category[row]) or "",
            ]
        )
    return out.getvalue()
