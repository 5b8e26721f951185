"""Builds the default race ``races/paris-j1000`` from the Champs-Élysées polyline.

Run ``python -m simulator.paris races/paris-j1000`` to regenerate ``course.geojson`` and
``participants.csv``; ``race.toml`` is written by hand and checked against the geometry.

The course: from the Arc de Triomphe down the south carriageway to Place de la Concorde, back up
the north carriageway, then a second, short out-and-back from the Arc so the lap measures 5.0 km.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from live.race.course import EARTH_RADIUS_M
from simulator.field import generate_field

RACE_DISTANCE_M = 5000.0
CARRIAGEWAY_OFFSET_M = 15.0  # half of the 70 m avenue would put runners on the pavement
POLYLINE = Path(__file__).resolve().parent.parent / "races" / "paris-j1000" / "champs_elysees_polyline.csv"


def _avenue_xy(lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    rows = list(csv.DictReader(POLYLINE.open(encoding="utf-8")))
    lat = np.array([float(r["lat"]) for r in rows])
    lon = np.array([float(r["lon"]) for r in rows])
    k = math.pi / 180 * EARTH_RADIUS_M
    return (lon - lon0) * k * math.cos(math.radians(lat0)), (lat - lat0) * k


def _offset(x: np.ndarray, y: np.ndarray, metres: float) -> tuple[np.ndarray, np.ndarray]:
    """Shift a polyline sideways (positive = to the right of its direction)."""
    dx, dy = np.gradient(x), np.gradient(y)
    norm = np.hypot(dx, dy)
    return x + dy / norm * metres, y - dx / norm * metres


def _length(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.hypot(np.diff(x), np.diff(y)).sum())


def _cut(x: np.ndarray, y: np.ndarray, metres: float) -> tuple[np.ndarray, np.ndarray]:
    """The first ``metres`` of a polyline."""
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    keep = cum < metres
    xe, ye = np.interp(metres, cum, x), np.interp(metres, cum, y)
    return np.append(x[keep], xe), np.append(y[keep], ye)


def build_course() -> list[tuple[float, float]]:
    """The 5.0 km course as ``[(lon, lat), …]``, starting and finishing at the Arc."""
    lat0, lon0 = 48.8696, 2.3082
    ax, ay = _avenue_xy(lat0, lon0)  # Concorde -> Arc (westbound)
    down_x, down_y = _offset(ax[::-1], ay[::-1], CARRIAGEWAY_OFFSET_M)  # Arc -> Concorde, south side
    up_x, up_y = _offset(ax, ay, CARRIAGEWAY_OFFSET_M)  # Concorde -> Arc, north side
    first = _length(down_x, down_y) + _length(up_x, up_y) + np.hypot(up_x[0] - down_x[-1], up_y[0] - down_y[-1])
    # second out-and-back: down the south side for `leg` metres and back up the north side
    lo, hi = 1.0, 1900.0
    for _ in range(60):
        leg = (lo + hi) / 2
        sx, sy = _cut(down_x, down_y, leg)
        rx, ry = _cut(up_x[::-1], up_y[::-1], leg)
        rx, ry = rx[::-1], ry[::-1]
        total = (
            first
            + np.hypot(sx[0] - up_x[-1], sy[0] - up_y[-1])
            + _length(sx, sy)
            + np.hypot(rx[0] - sx[-1], ry[0] - sy[-1])
            + _length(rx, ry)
        )
        lo, hi = (leg, hi) if total < RACE_DISTANCE_M else (lo, leg)
    x = np.concatenate([down_x, up_x, sx, rx])
    y = np.concatenate([down_y, up_y, sy, ry])
    k = math.pi / 180 * EARTH_RADIUS_M
    lon = x / (k * math.cos(math.radians(lat0))) + lon0
    lat = y / k + lat0
    return [(round(float(a), 7), round(float(b), 7)) for a, b in zip(lon, lat, strict=True)]


def write_race(directory: Path) -> None:
    """Write ``course.geojson`` and ``participants.csv`` of the default race."""
    coords = build_course()
    geo = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": "J-1000 course: Arc -> Concorde -> Arc, then a short out-and-back from the Arc",
                    "source": "built by simulator/paris.py from champs_elysees_polyline.csv (see SOURCES.md)",
                },
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
            }
        ],
    }
    (directory / "course.geojson").write_text(json.dumps(geo, indent=1) + "\n", encoding="utf-8")
    with (directory / "participants.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["bib", "chip", "name", "pen", "sex", "category", "declared_s"])
        writer.writerow(["1", "KIP001", "Eliud Kipchoge", "", "M", "Elite", "865"])
        for p in generate_field(seed=2021):
            writer.writerow([p.bib, "|".join(p.chips), p.name, p.pen, p.sex, p.category, f"{p.declared_s:.0f}"])


if __name__ == "__main__":
    write_race(Path(sys.argv[1] if len(sys.argv) > 1 else "races/paris-j1000"))
