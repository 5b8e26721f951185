"""A race without a pursuer for tests: a 10 km of two laps of the Paris 5 km course (the same mats,
their distances doubled), two pens with their own start times, runners taken from the J-1000's
participants, and ``[quotas]``. Written into a directory by :func:`write_plain_race`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers.paths import PARIS

START_A = "10:00:00"
START_B = "10:05:00"
RUNNERS = 400  # every 9th runner of the J-1000 file (pens 1–2 become wave A, the others wave B)


def write_plain_race(root: Path, runners: int = RUNNERS, extra_toml: str = "") -> Path:
    """Write the plain 10 km race directory into ``root``; returns it."""
    root.mkdir(parents=True, exist_ok=True)
    doc = json.loads((PARIS / "course.geojson").read_text(encoding="utf-8"))
    coords = doc["features"][0]["geometry"]["coordinates"]
    line = {"type": "LineString", "coordinates": coords + coords[1:]}  # two laps
    (root / "course.geojson").write_text(json.dumps(line), encoding="utf-8")
    (root / "race.toml").write_text(
        f"""[race]
id = "plain-10k"
name = "Paris 10 km (no pursuer)"
timezone = "Europe/Paris"
date = "2024-08-10"
course = "course.geojson"
distance_m = 10000
admin_token_env = "PURSUIT_ADMIN_TOKEN"

[[pens]]
id = "A"
name = "Wave A"
start = "{START_A}"

[[pens]]
id = "B"
name = "Wave B"
start = "{START_B}"

[[mats]]
id = "start"
at_m = [0]

[[mats]]
id = "marbeuf"
at_m = [400, 4271, 5400, 9271]

[[mats]]
id = "concorde"
at_m = [1930, 6930]

[[mats]]
id = "george-v"
at_m = [3400, 4560, 8400, 9560]

[[mats]]
id = "finish"
at_m = [5000, 10000]

[quotas]
sex.F = 50
category.Master = 40
{extra_toml}""",
        encoding="utf-8",
    )
    with (PARIS / "participants.csv").open(encoding="utf-8", newline="") as fh:
        everyone = [r for r in csv.DictReader(fh) if r["pen"]]  # the pursuer has no pen: not in a plain race
    rows = everyone[:: max(1, len(everyone) // runners)][:runners]
    with (root / "participants.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for r in rows:
            declared = float(r["declared_s"]) * 2.1 if r["declared_s"] else ""  # a 5 km time made a 10 km one
            writer.writerow({**r, "pen": "A" if r["pen"] in ("1", "2") else "B", "declared_s": declared})
    return root
