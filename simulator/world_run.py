"""Builds the catcher-car example ``races/world-run-paris`` from the Champs-Élysées polyline.

Run ``python -m simulator.world_run races/world-run-paris`` to regenerate ``course.geojson``,
``participants.csv`` and ``race.toml``.

The course: laps of the avenue, Arc de Triomphe → Place de la Concorde down the south carriageway
and back up the north one (≈3.85 km), repeated to about 100 km, longer than anyone runs before the
car (Wings for Life World Run schedule, ``live/race/schedule.py``) passes him. Four mats per lap,
each crossed once a lap: the Arc, Marbeuf (south side), the Concorde turn and George V (north side).

The field: 5,000 runners of a World Run's mix (a third women; every age), each with a declared
10 km time drawn log-normally around the medians of ``research/course.md`` §4 (10 km: men 57 min,
women 66 min, Running USA 2014), wider than a road race's (a World Run draws walkers too).
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from pathlib import Path

import numpy as np

from live.race.course import EARTH_RADIUS_M, Course
from simulator.field import FIRST_NAMES, LAST_NAMES
from simulator.paris import CARRIAGEWAY_OFFSET_M, _avenue_xy, _offset

COURSE_M = 100_000.0  # at least this long: nobody outruns the car that far
RUNNERS = 5000
WOMEN_SHARE = 0.33
MEDIAN_10K_S = {"M": 57 * 60.0, "F": 66 * 60.0}  # research/course.md §4 (Running USA 2014)
SIGMA_10K = 0.22  # log-normal spread of declared 10 km times: walkers to club runners
CATEGORIES = (("18-29", 0.22), ("30-39", 0.30), ("40-49", 0.26), ("50-59", 0.16), ("60+", 0.06))
# mats of one lap as a share of its length: the Arc (start and lap line), Marbeuf, Concorde, George V
LAP_MATS = (("arc", 0.0), ("marbeuf", 0.25), ("concorde", 0.5), ("george-v", 0.75))
MILESTONES_M = (5000, 10000, 21097.5, 30000, 42195)
SCHEDULE = ((0, 15), (3600, 16), (7200, 17), (10800, 20), (18000, 35))  # Wings for Life World Run
HEAD_START_S = 1800  # the car leaves 30 minutes after the runners


def build_lap() -> list[tuple[float, float]]:
    """One lap as ``[(lon, lat), …]``: from the Arc down the south carriageway, back up the north one."""
    lat0, lon0 = 48.8696, 2.3082
    ax, ay = _avenue_xy(lat0, lon0)  # Concorde -> Arc
    down_x, down_y = _offset(ax[::-1], ay[::-1], CARRIAGEWAY_OFFSET_M)
    up_x, up_y = _offset(ax, ay, CARRIAGEWAY_OFFSET_M)
    x, y = np.concatenate([down_x, up_x]), np.concatenate([down_y, up_y])
    x, y = np.append(x, x[0]), np.append(y, y[0])  # back onto the lap line at the Arc
    k = math.pi / 180 * EARTH_RADIUS_M
    lon = x / (k * math.cos(math.radians(lat0))) + lon0
    lat = y / k + lat0
    return [(round(float(a), 7), round(float(b), 7)) for a, b in zip(lon, lat, strict=True)]


def build_course() -> tuple[list[tuple[float, float]], float, int]:
    """The whole course (laps end to end), the length of a lap and the number of laps."""
    lap = build_lap()
    lap_m = Course.from_lonlat(lap).measured_m
    laps = math.ceil(COURSE_M / lap_m)
    coords = lap + [c for _ in range(laps - 1) for c in lap[1:]]
    return coords, lap_m, laps


def mat_distances(lap_m: float, laps: int) -> dict[str, list[float]]:
    """Each mat's distances along the course: one a lap (the Arc's also at the very end)."""
    out = {}
    for mat, share in LAP_MATS:
        out[mat] = [round(n * lap_m + share * lap_m, 1) for n in range(laps)]
    out["arc"].append(round(laps * lap_m, 1))
    return out


def write_participants(path: Path, seed: int = 2019) -> None:
    rng = random.Random(seed)
    chip_numbers = rng.sample(range(0x100000, 0xFFFFFF), RUNNERS)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["bib", "chip", "name", "pen", "sex", "category", "declared_s"])
        writer.writerow(["0", "CAR000", "Catcher Car", "", "", "", ""])
        cats = [c for c, _ in CATEGORIES]
        weights = [w for _, w in CATEGORIES]
        for i in range(RUNNERS):
            sex = "F" if rng.random() < WOMEN_SHARE else "M"
            ten_k = MEDIAN_10K_S[sex] * math.exp(rng.gauss(0.0, SIGMA_10K))
            ten_k = min(max(ten_k, 2000.0), 7800.0)  # 33 min (a club runner) to 2:10 (a walker)
            first = rng.choice(FIRST_NAMES[:16] if sex == "F" else FIRST_NAMES[16:])
            category = rng.choices(cats, weights)[0]
            writer.writerow(
                [
                    str(1000 + i),
                    f"{chip_numbers[i]:06X}",
                    f"{first} {rng.choice(LAST_NAMES)}",
                    "1",
                    sex,
                    category,
                    f"{ten_k:.0f}",
                ]
            )


def write_race(directory: Path) -> None:
    """Write the whole race directory."""
    directory.mkdir(parents=True, exist_ok=True)
    coords, lap_m, laps = build_course()
    geo = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": f"{laps} laps Arc -> Concorde -> Arc of {lap_m:.0f} m",
                    "source": "built by simulator/world_run.py from champs_elysees_polyline.csv",
                },
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
            }
        ],
    }
    (directory / "course.geojson").write_text(json.dumps(geo) + "\n", encoding="utf-8")
    write_participants(directory / "participants.csv")
    mats = mat_distances(lap_m, laps)
    toml = [
        "# A catcher-car race (the Wings for Life World Run format) on laps of the Champs-Élysées.",
        "# Built by simulator/world_run.py: `python -m simulator.world_run races/world-run-paris`.",
        "# No finish line: a runner's result is the distance at which the car passes him.",
        "",
        "[race]",
        'id = "world-run-paris"',
        'name = "World Run Paris — the car is coming"',
        'timezone = "Europe/Paris"',
        'language = "fr"                      # the pages\' language when the browser asks for none we speak (en, fr)',
        'date = "2026-05-03"',
        'course = "course.geojson"',
        'participants = "participants.csv"',
        f"distance_m = {laps * lap_m:.1f}",
        'outcome = "distance"                   # results: where the pursuer passed each runner',
        f"milestones_m = [{', '.join(f'{m:g}' for m in MILESTONES_M)}]",
        "",
        "[pursuer]",
        'bib = "0"',
        'name = "Catcher Car"',
        'start = "13:30:00"',
        "# km/h from seconds after his start: 15, then 16 after 1 h, 17 after 2 h, 20 after 3 h, 35 after 5 h",
        f"schedule = [{', '.join(f'[{a}, {b}]' for a, b in SCHEDULE)}]",
        "",
        "[[pens]]",
        'id = "1"',
        'name = "Everyone (13:00)"',
        f"head_start_s = {HEAD_START_S}",
        "",
        "# One mat per place, crossed once a lap: every distance it lies at.",
    ]
    for mat, at in mats.items():
        toml += ["", "[[mats]]", f'id = "{mat}"', f"at_m = [{', '.join(f'{a:.1f}' for a in at)}]"]
    (directory / "race.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_race(Path(sys.argv[1] if len(sys.argv) > 1 else "races/world-run-paris"))
