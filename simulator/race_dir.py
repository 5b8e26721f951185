"""The race directory a results file's chase becomes (``race.toml``, ``participants.csv``, a course
around Berlin's Tiergarten: the file has no geometry), loaded like any other race."""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from live.forecast.model import MARATHON_M, default_model
from live.race.race import Race
from live.race.race_file import load_race
from simulator.chase_field import COURSE_CENTRE, COURSE_POINTS, PEN, START_MAT, TIMEZONE, ChaseField


def chip_of(bib: str) -> str:
    """The chip a runner wears (CTP01 tags are letters, digits, '-' and '_')."""
    return "B" + re.sub(r"[^A-Za-z0-9_-]", "_", bib)


def mat_ids(chase: ChaseField) -> list[str]:
    """The start mat, then one mat per split column (named after it: ``5k``, ``half``, ``finish``)."""
    return [START_MAT, *chase.split_names]


def write_race(
    chase: ChaseField,
    directory: Path | str,
    first_gun: float,
    race_id: str,
    name: str | None = None,
    pursuer_finish_s: float | None = None,
) -> Race:
    """Write the chase as a race directory (``race.toml``, ``participants.csv``, ``course.geojson``)
    that ``pursuit serve --race`` loads, and load it.

    The pursuer's planned pace is ``pursuer_finish_s`` over the distance; by default the forecast
    model's reference (a marathon winner's typical finish, scaled to the distance), never his own
    finish in the file: the live forecast must not be handed the result it is meant to predict."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    tz = ZoneInfo(TIMEZONE)
    gun = datetime.fromtimestamp(first_gun, tz)
    pursuer_start = gun + timedelta(seconds=chase.delay_s)
    distance = float(chase.at_m[-1])
    finish_s = pursuer_finish_s or default_model().reference_finish_s * distance / MARATHON_M
    bib = chase.pursuer_bib
    title = name or f"{race_id}: bib {bib} chases the field from {_hms(chase.delay_s)} behind"
    mats = "".join(
        f'[[mats]]\nid = "{m}"\nat_m = [{a!r}]\n\n'
        for m, a in zip(mat_ids(chase), [0.0, *map(float, chase.at_m)], strict=True)
    )
    (root / "race.toml").write_text(
        f"# Written by simulator/results.py: a results file replayed as a chase (pursuit simulate --results).\n"
        f"# The course is synthetic (a circle of the race distance); the mats sit at the split distances.\n\n"
        f"[race]\n"
        f'id = "{race_id}"\n'
        f"name = {json.dumps(title, ensure_ascii=False)}\n"
        f'timezone = "{TIMEZONE}"\n'
        f'date = "{gun:%Y-%m-%d}"\n'
        f'course = "course.geojson"\n'
        f'participants = "participants.csv"\n'
        f"distance_m = {float(chase.at_m[-1])!r}\n\n"
        f"[pursuer]\n"
        f'bib = "{bib}"\n'
        f'name = "Bib {bib}"\n'
        f"pace_s_per_km = {finish_s / (float(chase.at_m[-1]) / 1000):.1f}\n"
        f'start = "{pursuer_start.time().isoformat()}"\n\n'
        f"[[pens]]\n"
        f'id = "{PEN}"\n'
        f'name = "The field"\n'
        f"head_start_s = {max(chase.delay_s, 0.001)!r}\n\n" + mats,
        encoding="utf-8",
    )
    (root / "course.geojson").write_text(json.dumps(_course(float(chase.at_m[-1]))) + "\n", encoding="utf-8")
    with (root / "participants.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["bib", "chip", "name", "pen", "sex", "category", "declared_s"])
        for i, (b, sex) in enumerate(zip(chase.bibs, chase.sex, strict=True)):
            pen = "" if i == chase.pursuer_row else PEN
            writer.writerow([b, chip_of(str(b)), f"Bib {b}", pen, sex, "", ""])
    return load_race(root)


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _course(distance_m: float) -> dict[str, object]:
    """A circle of ``distance_m`` around the centre, clockwise from its southern point, as GeoJSON."""
    lat0, lon0 = COURSE_CENTRE
    radius_m = distance_m / (2 * math.pi)
    k = math.pi / 180 * 6_371_008.8
    angles = np.linspace(0.0, 2 * math.pi, COURSE_POINTS + 1)
    lat = lat0 - radius_m * np.cos(angles) / k
    lon = lon0 - radius_m * np.sin(angles) / (k * math.cos(math.radians(lat0)))
    coords = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]
    return {
        "type": "Feature",
        "properties": {"name": "synthetic course: a circle of the race distance (the results have no geometry)"},
        "geometry": {"type": "LineString", "coordinates": coords},
    }
