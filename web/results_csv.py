"""The results export (``GET /api/results.csv``): one writer for both outcomes, each giving its order
and what its rows are timed by (a chase's finish, or where a catcher car passed the runner)."""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from live.chase.chase import catch_point
from live.chase.places import Places, listing_order
from live.chase.snapshot import CAUGHT, STATUSES, Snapshot
from live.engine.engine import LiveEngine
from web.http import iso_time
from web.messages import probability

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

# a chase's runners not placed: won (finished) first, then runners still out, then caught, then dnf/dq
_STATUS_ORDER = np.array([3, 2, 1, 4, 0, 5, 6, 0])  # by status code

# what an outcome says of one row: the time it is timed at (NaN: none), then the cells finish_time,
# margin_s, caught_at_m, caught_time and win_probability
Timed = tuple[float, str, str, str, str, str]


def csv_text(text: str) -> str:
    """A text cell a spreadsheet will show, not run: one starting like a formula (``=``, ``+``, ``-``,
    ``@``, tab, CR) gets a leading apostrophe (OWASP, "CSV Injection")."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Finish:
    """A chase (``outcome = "finish"``): the placed by place (winners by finish time; in a race without a
    pursuer, finishers by gun time), then everyone else by status and distance; timed by the finish."""

    def __init__(self, engine: LiveEngine, snap: Snapshot, places: Places) -> None:
        self.engine, self.snap = engine, snap
        self.finish = engine.used_times[:, -1]
        placed = np.where(places.place > 0, places.place, np.iinfo(np.int64).max)
        key = (np.nan_to_num(self.finish, nan=np.inf), -snap.distance_m, _STATUS_ORDER[snap.status], placed)
        self.order = np.lexsort(key).tolist()

    def timed(self, row: int) -> Timed:
        e, snap, f = self.engine, self.snap, float(self.finish[row])
        caught_at, caught_time = "", ""
        if snap.status[row] == CAUGHT:
            point = catch_point(e.used_times[row], e.used_pursuer_times, e.at_m)
            if point:
                caught_at, caught_time = f"{point[0]:.1f}", iso_time(point[1], e.race.timezone) or ""
        margin = f"{snap.margin_s[row]:.2f}" if math.isfinite(snap.margin_s[row]) else ""
        p_win = "" if (p := probability(snap, row)) is None else f"{p:.3f}"
        return f, iso_time(f, e.race.timezone) or "", margin, caught_at, caught_time, p_win


class _Distance:
    """A catcher-car race (``outcome = "distance"``): ranked by where the car passed each runner, furthest
    first, a runner still running by where he is (ahead of everyone it passed); timed by his catch."""

    def __init__(self, engine: LiveEngine, snap: Snapshot, places: Places) -> None:
        self.engine, self.snap = engine, snap
        self.order = listing_order(places).tolist()
        self.at = snap.caught_at_m if snap.caught_at_m is not None else np.full(len(snap.bibs), np.nan)

    def timed(self, row: int) -> Timed:
        snap = self.snap
        caught = bool(snap.status[row] == CAUGHT)
        t = float(snap.caught_time[row]) if caught and snap.caught_time is not None else math.nan
        caught_time = iso_time(t, self.engine.race.timezone) or "" if math.isfinite(t) else ""
        return t, "", "", f"{self.at[row]:.1f}" if caught else "", caught_time, ""


def results_csv(engine: LiveEngine, snap: Snapshot) -> str:
    """The results of the race at ``snap``, in the order and with the times of its outcome."""
    race, places = engine.race, engine.places()
    outcome = (_Distance if race.by_distance else _Finish)(engine, snap, places)
    start_read, guns = engine.used_times[:, 0], engine.guns
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RESULT_COLUMNS)
    for row in outcome.order:
        p = race.participant(str(snap.bibs[row]))
        assert p is not None
        gun = guns.get(f"pen:{p.pen}")
        t, finish_time, margin, caught_at, caught_time, p_win = outcome.timed(row)
        place, place_sex, place_category = places.of(row)
        writer.writerow(
            [
                place or "",
                *map(csv_text, (p.bib, p.name, p.pen, p.sex, p.category)),
                STATUSES[int(snap.status[row])],
                finish_time,
                f"{t - gun:.2f}" if gun is not None and math.isfinite(t) else "",
                f"{t - start_read[row]:.2f}" if math.isfinite(t) and not np.isnan(start_read[row]) else "",
                margin,
                f"{snap.distance_m[row]:.1f}",
                caught_at,
                caught_time,
                p_win,
                place_sex or "",
                place_category or "",
            ]
        )
    return out.getvalue()
