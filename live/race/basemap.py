"""A race's offline basemap: the streets, water, parks and landmarks around the course.

An optional file of the race directory (``[race] basemap = "basemap.geojson"``): a GeoJSON
FeatureCollection in WGS84 lon/lat whose features each carry ``properties.kind``:

- ``street``: LineString or MultiLineString; ``highway`` (OSM value), optional ``name`` and
  ``brunnel`` (``tunnel``/``bridge``);
- ``water`` and ``park``: Polygon or MultiPolygon, optional ``name``;
- ``landmark``: Point with a ``name``.

Map data must be credited where it is shown: the attribution comes from the file's top-level
``attribution`` or from ``[map] attribution`` in race.toml, and a basemap without either is refused.
:func:`load_basemap` validates the file and reports the feature and what is wrong with it; the
dashboard decides what to draw of it (``dashboard/map_data.py``).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from live.race.course import Course
from live.race.errors import RaceError

GEOMETRIES = {
    "street": ("LineString", "MultiLineString"),
    "water": ("Polygon", "MultiPolygon"),
    "park": ("Polygon", "MultiPolygon"),
    "landmark": ("Point",),
}
MAX_BYTES = 20_000_000  # a city basemap is about 1 MB; a file this large is the wrong file
NEAR_COURSE_M = 2_000.0  # some feature must lie this close to the course, or it maps somewhere else


@dataclass(frozen=True)
class Feature:
    """One map feature: its kind, its lines (each a tuple of ``(lon, lat)``) and its properties.

    Streets have one line per LineString part, water and parks one per polygon ring (outer rings
    and holes alike), a landmark one line of one point."""

    kind: str
    lines: tuple[tuple[tuple[float, float], ...], ...]
    name: str | None
    properties: dict[str, object]


@dataclass(frozen=True)
class Basemap:
    path: Path
    attribution: str
    features: tuple[Feature, ...]

    def of(self, kind: str) -> tuple[Feature, ...]:
        return tuple(f for f in self.features if f.kind == kind)


def load_basemap(path: Path, course: Course, attribution: str | None = None) -> Basemap:
    """Read and validate a basemap file (cached while the file is unchanged)."""
    if not path.is_file():
        raise RaceError(path, "", "basemap file not found")
    stat = path.stat()
    if stat.st_size > MAX_BYTES:
        raise RaceError(path, "", f"{stat.st_size:,} bytes: larger than the {MAX_BYTES:,} a basemap may have")
    basemap = _read(str(path), stat.st_mtime_ns, stat.st_size, attribution)
    _check_near(basemap, course)
    return basemap


@functools.lru_cache(maxsize=8)
def _read(path_s: str, _mtime_ns: int, _size: int, attribution: str | None) -> Basemap:
    path = Path(path_s)
    try:
        doc = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RaceError(path, "", f"not valid GeoJSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise RaceError(path, "", "must be a GeoJSON FeatureCollection with a list of features")
    credit = attribution or doc.get("attribution")
    if not isinstance(credit, str) or not credit.strip():
        raise RaceError(
            path, "attribution", "map data must be credited: give a top-level attribution or [map] attribution"
        )
    return Basemap(path, credit.strip(), tuple(_feature(path, i, f) for i, f in enumerate(doc["features"])))


def _feature(path: Path, i: int, f: object) -> Feature:
    where = f"features[{i}]"
    if not isinstance(f, dict) or not isinstance(f.get("properties"), dict) or not isinstance(f.get("geometry"), dict):
        raise RaceError(path, where, "a feature needs properties and a geometry")
    props, geom = f["properties"], f["geometry"]
    kind = props.get("kind")
    if kind not in GEOMETRIES:
        raise RaceError(path, f"{where}.properties.kind", f"must be one of {', '.join(GEOMETRIES)}, got {kind!r}")
    gtype = geom.get("type")
    if gtype not in GEOMETRIES[kind]:
        allowed = " or ".join(GEOMETRIES[kind])
        raise RaceError(path, f"{where}.geometry.type", f"a {kind} must be {allowed}, got {gtype!r}")
    name = props.get("name")
    if name is not None and not isinstance(name, str):
        raise RaceError(path, f"{where}.properties.name", f"must be a string, got {name!r}")
    if kind == "landmark" and not (name and name.strip()):
        raise RaceError(path, f"{where}.properties.name", "a landmark needs a name")
    coords = geom.get("coordinates")
    depth = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}[gtype]
    try:
        lines = _lines(coords, depth)
    except (TypeError, ValueError) as exc:
        raise RaceError(path, f"{where}.geometry.coordinates", f"not valid {gtype} coordinates: {exc}") from exc
    minimum = {"street": 2, "water": 4, "park": 4, "landmark": 1}[kind]
    for line in lines:
        if len(line) < minimum:
            raise RaceError(path, f"{where}.geometry.coordinates", f"a {kind} line needs at least {minimum} points")
    return Feature(kind, lines, name.strip() if name else None, props)


def _lines(coords: object, depth: int) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Flatten GeoJSON coordinates of nesting ``depth`` (0 = a point) into lines of (lon, lat)."""
    if depth == 0:
        return ((_position(coords),),)
    if not isinstance(coords, list) or not coords:
        raise ValueError("expected a non-empty list")
    if depth == 1:
        return (tuple(_position(p) for p in coords),)
    return tuple(line for part in coords for line in _lines(part, depth - 1))


def _position(p: object) -> tuple[float, float]:
    if not isinstance(p, list | tuple) or len(p) < 2:
        raise ValueError(f"expected [lon, lat], got {p!r}")
    lon, lat = p[0], p[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        raise ValueError(f"expected numbers, got {p!r}")
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"{p!r} is not a lon/lat position")
    return float(lon), float(lat)


def _check_near(basemap: Basemap, course: Course) -> None:
    """Some feature lies within ``NEAR_COURSE_M`` of the course: the basemap is of this place."""
    import numpy as np

    lon = np.array([p[0] for f in basemap.features for line in f.lines for p in line[:1]])
    lat = np.array([p[1] for f in basemap.features for line in f.lines for p in line[:1]])
    if lon.size:
        x, y = course.project(lat, lon)
        cx, cy = course.xy_at(np.linspace(0, course.distance_m, 50))
        nearest = min(float(np.min(np.hypot(x - a, y - b))) for a, b in zip(cx, cy, strict=True))
        if nearest <= NEAR_COURSE_M:
            return
        far = f"no feature within {NEAR_COURSE_M:,.0f} m of the course: a map of another place?"
        raise RaceError(basemap.path, "", far)
    raise RaceError(basemap.path, "features", "the basemap has no features")


@dataclass(frozen=True)
class TileLayer:
    """``[map] tiles``: an XYZ raster tile URL drawn over the basemap where the viewer has internet."""

    url: str
    attribution: str
    max_zoom: int = 19


def tile_layer(toml_path: Path, table: object) -> TileLayer | None:
    """The ``[map]`` table's tile layer, if any (off unless ``tiles`` is set)."""
    if not isinstance(table, dict):
        raise RaceError(toml_path, "map", "must be a table")
    url = table.get("tiles")
    if url is None or url == "":
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise RaceError(toml_path, "map.tiles", f"must be an http(s) URL, got {url!r}")
    missing = [k for k in ("{z}", "{x}", "{y}") if k not in url]
    if missing:
        raise RaceError(toml_path, "map.tiles", f"the URL lacks {', '.join(missing)} (an XYZ tile URL)")
    credit = table.get("tiles_attribution", "© OpenStreetMap contributors")
    if not isinstance(credit, str) or not credit.strip():
        raise RaceError(toml_path, "map.tiles_attribution", "tiles must be credited: a non-empty string")
    zoom = table.get("tiles_max_zoom", 19)
    if isinstance(zoom, bool) or not isinstance(zoom, int) or not 0 <= zoom <= 22:
        raise RaceError(toml_path, "map.tiles_max_zoom", f"must be a whole number 0–22, got {zoom!r}")
    return TileLayer(url, credit.strip(), zoom)
