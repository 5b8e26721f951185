"""Builds ``races/paris-2024/10k``: a 10 km without a pursuer, two laps of the J-1000's course on the
same mats, run after the chase in the same event (``races/paris-2024/event.toml``).

Run ``python -m simulator.paris_10k races/paris-2024/10k`` to regenerate its ``course.geojson`` and
``participants.csv``; ``race.toml`` is written by hand. The field: 5,000 runners, 10 km times
log-normal around 55 min for men and 62 min for women (Running USA's averages are 57:03 and 1:06:22,
``research/course.md`` §4; a city 10 km with waves is a little faster), σ 0.17 in log, in two waves
by declared time.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from pathlib import Path

from simulator.field import FIRST_NAMES, LAST_NAMES
from simulator.paris import build_course

RUNNERS = 5000
FIRST_BIB = 10001
MEDIAN_S = {"M": 55 * 60.0, "F": 62 * 60.0}
SIGMA = 0.17
FASTEST_S, SLOWEST_S = 30 * 60.0, 105 * 60.0
WAVE_A_UNDER_S = 55 * 60.0  # declared under this: wave A, the first released
WOMEN_SHARE = 0.42


def write_ten_k(directory: Path, seed: int = 2024) -> None:
    """Write the 10 km's ``course.geojson`` (the 5 km lap twice) and ``participants.csv``."""
    lap = build_course()
    coords = lap + lap[1:]
    geo = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": "10 km: two laps of the J-1000 course (Arc -> Concorde -> Arc, short out-and-back)",
                    "source": "built by simulator/paris_10k.py from the J-1000 course (simulator/paris.py)",
                },
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
            }
        ],
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "course.geojson").write_text(json.dumps(geo, indent=1) + "\n", encoding="utf-8")
    rng = random.Random(seed)
    chips = rng.sample(range(0x10000, 0xFFFFF), RUNNERS)
    with (directory / "participants.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["bib", "chip", "name", "pen", "sex", "category", "declared_s"])
        for i in range(RUNNERS):
            sex = "F" if rng.random() < WOMEN_SHARE else "M"
            declared = min(max(MEDIAN_S[sex] * math.exp(rng.gauss(0.0, SIGMA)), FASTEST_S), SLOWEST_S)
            first = rng.choice(FIRST_NAMES[:16] if sex == "F" else FIRST_NAMES[16:])
            writer.writerow(
                [
                    FIRST_BIB + i,
                    f"T{chips[i]:05X}",
                    f"{first} {rng.choice(LAST_NAMES)}",
                    "A" if declared < WAVE_A_UNDER_S else "B",
                    sex,
                    "Senior" if rng.random() < 0.65 else "Master",
                    f"{declared:.0f}",
                ]
            )


if __name__ == "__main__":
    write_ten_k(Path(sys.argv[1] if len(sys.argv) > 1 else "races/paris-2024/10k"))
