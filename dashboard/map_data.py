"""What the map draws of the race's basemap, as one small JSON document the browser fetches once.

The basemap file (live/race/basemap.py) holds every footway and tunnel of the area in lon/lat, 1.1 MB.
The page needs much less: streets a spectator recognises (main avenues, streets, squares), the
Seine and the parks, and the places to name. :func:`basemap_document` keeps those, projects them
into the metres the map is drawn in (``Course.project``), simplifies every line to
``SIMPLIFY_M`` (under a pixel at the closest zoom the page opens at), rounds to whole metres and
writes each line as deltas from its first point. It also places the labels: landmarks, the Seine,
large parks and street names along their street (never on the course itself, where the runners
are), each with a priority and the zoom from which it is worth showing; the browser shows as many
as fit without overlapping (``assets/map.js``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np

from live.race.basemap import Basemap
from live.race.race import Race

SIMPLIFY_M = 1.5
# highway value -> the class it is drawn in; any other (footways, paths, cycleways, service roads,
# construction) is left out, and so is every tunnel
STREET_CLASSES = {
    "motorway": "major",
    "trunk": "major",
    "primary": "major",
    "secondary": "major",
    "tertiary": "street",
    "unclassified": "street",
    "residential": "street",
    "living_street": "street",
    "pedestrian": "square",
}
CLASS_ORDER = ("square", "street", "major")
# label priorities: lower is placed first and wins a collision
PRIORITY = {"mat": 0, "landmark": 1, "water": 2, "major": 3, "km": 4, "street": 5, "park": 6}
# zoom (pixels per metre) from which a label is shown: minor names only once zoomed in
MIN_SCALE = {"street": 0.9, "park": 0.35}
PARK_LABEL_MIN_M2 = 15_000
OFF_COURSE_M = 30.0  # a street label this close to the course moves beside it
LABEL_EVERY_M = 700.0  # a long street or river is named again this far along
SQUARES = ("Place ", "Rond-Point ", "Carrefour ")


@dataclass(frozen=True)
class Label:
    text: str
    kind: str
    x: float
    y: float
    angle: float = 0.0  # degrees, counter-clockwise from east, kept readable (−90..90)
    weight: float = 0.0  # among labels of one priority, the heavier is placed first (a street's length)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"t": self.text, "k": self.kind, "x": round(self.x), "y": round(self.y)}
        out["p"] = PRIORITY[self.kind]
        if self.angle:
            out["a"] = round(self.angle)
        if self.kind in MIN_SCALE:
            out["z"] = MIN_SCALE[self.kind]
        return out


def simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas–Peucker: the fewest of ``points`` (n×2) that stay within ``tolerance`` of the line."""
    n = len(points)
    if n < 3:
        return points
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = points[b] - points[a]
        rel = points[a + 1 : b] - points[a]
        length = math.hypot(*seg)
        if length == 0:
            dist = np.hypot(rel[:, 0], rel[:, 1])
        else:
            dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / length
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            mid = a + 1 + i
            keep[mid] = True
            stack.extend(((a, mid), (mid, b)))
    return points[keep]


def _encode(points: np.ndarray) -> list[int]:
    """Whole metres, each point after the first as the step from the one before."""
    ints = np.round(points).astype(np.int64)
    ints = ints[np.r_[True, np.any(np.diff(ints, axis=0) != 0, axis=1)]]  # no zero steps
    steps = np.vstack([ints[:1], np.diff(ints, axis=0)])
    return steps.ravel().tolist()


def _upright(dx: float, dy: float) -> float:
    angle = math.degrees(math.atan2(dy, dx))
    if angle > 90:
        angle -= 180
    elif angle < -90:
        angle += 180
    return angle


def _along(line: np.ndarray, at: float) -> tuple[float, float, float]:
    """Point ``at`` metres along ``line`` and the upright angle of the line around it."""
    cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(line, axis=0).T))]
    x, y = np.interp(at, cum, line[:, 0]), np.interp(at, cum, line[:, 1])
    lo, hi = max(0.0, at - 60), min(cum[-1], at + 60)
    dx = np.interp(hi, cum, line[:, 0]) - np.interp(lo, cum, line[:, 0])
    dy = np.interp(hi, cum, line[:, 1]) - np.interp(lo, cum, line[:, 1])
    return float(x), float(y), _upright(float(dx), float(dy))


class _Projector:
    def __init__(self, race: Race) -> None:
        self.race = race
        cx, cy = race.course.xy_at(np.linspace(0, race.distance_m, 400))
        self.course = np.column_stack([cx, cy])

    def xy(self, line: tuple[tuple[float, float], ...]) -> np.ndarray:
        a = np.asarray(line, dtype=float)
        x, y = self.race.course.project(a[:, 1], a[:, 0])
        return np.column_stack([x, y])

    def off_course(self, x: float, y: float, angle: float) -> tuple[float, float]:
        """Move a label lying on the course to beside it (across the street, away from the course)."""
        nx, ny = -math.sin(math.radians(angle)), math.cos(math.radians(angle))
        for k in (0.0, 2.2, -2.2, 3.5, -3.5, 5.0, -5.0):
            cx, cy = x + nx * k * OFF_COURSE_M, y + ny * k * OFF_COURSE_M
            if np.hypot(self.course[:, 0] - cx, self.course[:, 1] - cy).min() > OFF_COURSE_M:
                return cx, cy
        return cx, cy


def _street_labels(proj: _Projector, named: dict[tuple[str, str], list[np.ndarray]]) -> list[Label]:
    labels = []
    for (name, cls), lines in named.items():
        kind = "major" if cls == "major" else "street"
        if name.startswith(SQUARES):  # a square or roundabout: its name level, in its middle
            pts = np.vstack(lines)
            x, y = proj.off_course(float(pts[:, 0].mean()), float(pts[:, 1].mean()), 0.0)
            labels.append(Label(name, kind, x, y, weight=len(pts)))
            continue
        longest = max(lines, key=lambda ln: float(np.sum(np.hypot(*np.diff(ln, axis=0).T))))
        length = float(np.sum(np.hypot(*np.diff(longest, axis=0).T)))
        if length < 80:  # too short to carry its name
            continue
        count = max(1, int(length // LABEL_EVERY_M))
        for k in range(count):
            x, y, angle = _along(longest, length * (k + 0.5) / count)
            x, y = proj.off_course(x, y, angle)
            labels.append(Label(name, kind, x, y, angle, weight=length))
    return labels


def _ring_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _water_labels(name: str, rings: list[np.ndarray]) -> list[Label]:
    """A river's name along it, every ``LABEL_EVERY_M`` of its length across the map."""
    pts = np.vstack(rings)
    x0, x1 = float(pts[:, 0].min()), float(pts[:, 0].max())
    labels = []
    for x in np.arange(x0 + LABEL_EVERY_M / 2, x1, LABEL_EVERY_M):
        near = pts[np.abs(pts[:, 0] - x) < 60]
        wide = pts[np.abs(pts[:, 0] - x) < 250]
        if len(near) < 2 or len(wide) < 4:
            continue
        slope = np.polyfit(wide[:, 0], wide[:, 1], 1)[0]
        labels.append(Label(name, "water", float(x), float(np.median(near[:, 1])), _upright(1.0, float(slope))))
    return labels


def basemap_document(race: Race, basemap: Basemap) -> dict[str, object]:
    """The basemap as the page draws it (see the module docstring)."""
    proj = _Projector(race)
    streets: dict[str, list[list[int]]] = {c: [] for c in CLASS_ORDER}
    named: dict[tuple[str, str], list[np.ndarray]] = {}
    for f in basemap.of("street"):
        cls = STREET_CLASSES.get(str(f.properties.get("highway")))
        if cls is None or f.properties.get("brunnel") == "tunnel":
            continue
        for line in f.lines:
            xy = simplify(proj.xy(line), SIMPLIFY_M)
            streets[cls].append(_encode(xy))
            if f.name and cls != "square":
                named.setdefault((f.name, cls), []).append(xy)
    areas: dict[str, list[list[int]]] = {"water": [], "park": []}
    labels: list[Label] = []
    for kind in areas:
        by_name: dict[str, list[np.ndarray]] = {}
        for f in basemap.of(kind):
            rings = [simplify(proj.xy(ring), SIMPLIFY_M) for ring in f.lines]
            areas[kind].extend(_encode(r) for r in rings if len(r) >= 3)
            if f.name and rings:
                by_name.setdefault(f.name.split(";")[0].strip(), []).append(rings[0])
        for name, rings in by_name.items():
            if kind == "water":
                biggest = max(_ring_area(r) for r in rings)
                if biggest > 50_000:  # the river, not a fountain
                    labels.extend(_water_labels(name, rings))
            else:
                ring = max(rings, key=_ring_area)
                if _ring_area(ring) >= PARK_LABEL_MIN_M2:
                    labels.append(Label(name, "park", float(ring[:, 0].mean()), float(ring[:, 1].mean())))
    for f in basemap.of("landmark"):
        ((x, y),) = proj.xy(f.lines[0])
        labels.append(Label(str(f.name), "landmark", float(x), float(y)))
    labels.extend(_street_labels(proj, named))
    return {
        "attribution": basemap.attribution,
        "classes": list(CLASS_ORDER),
        "streets": [streets[c] for c in CLASS_ORDER],
        "water": areas["water"],
        "parks": areas["park"],
        "landmarks": [[round(lb.x), round(lb.y)] for lb in labels if lb.kind == "landmark"],
        "labels": [lb.as_json() for lb in sorted(labels, key=lambda lb: (PRIORITY[lb.kind], -lb.weight))],
    }


def race_labels(race: Race) -> list[dict[str, object]]:
    """The race's own labels: its mats (mats at one place share one label) and every whole km."""
    placed: list[tuple[list[str], float, float]] = []
    for mat in race.mats:
        if mat.backup_of:
            continue
        (x,), (y,) = race.course.xy_at(np.array([mat.at_m[0]]))
        near = next((p for p in placed if math.hypot(p[1] - x, p[2] - y) < 40), None)
        if near:
            near[0].append(mat.label)
        else:
            placed.append(([mat.label], float(x), float(y)))
    out = [Label(" / ".join(ids), "mat", x, y).as_json() for ids, x, y in placed]
    for km in range(1, int(race.distance_m // 1000) + 1):
        if km * 1000 >= race.distance_m:
            break
        (x,), (y,) = race.course.xy_at(np.array([km * 1000.0]))
        out.append(Label(f"{km} km", "km", float(x), float(y)).as_json())
    return out


class BasemapAsset:
    """The document as served: JSON bytes and a version tag, built once per race."""

    def __init__(self, race: Race) -> None:
        basemap = race.basemap
        self.body = b""
        self.etag = ""
        if basemap is not None:
            self.body = json.dumps(basemap_document(race, basemap), separators=(",", ":"), ensure_ascii=False).encode()
            self.etag = hashlib.sha256(self.body).hexdigest()[:16]
