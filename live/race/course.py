"""Course geometry: a polyline with a length, every position a distance along it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Course:
    """A course polyline (lon/lat) measured in metres along its length.

    ``distance_m`` is the official race distance; positions given in race metres are mapped
    linearly onto the measured polyline, so a course drawn a few metres short still has its
    finish at the end of the line.
    """

    lon: np.ndarray
    lat: np.ndarray
    distance_m: float
    _x_m: np.ndarray = field(init=False, repr=False, compare=False)
    _y_m: np.ndarray = field(init=False, repr=False, compare=False)
    _cum_m: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        x, y = self.project(self.lat, self.lon)
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
        object.__setattr__(self, "_x_m", x)
        object.__setattr__(self, "_y_m", y)
        object.__setattr__(self, "_cum_m", cum)

    @classmethod
    def from_lonlat(cls, coords: list[tuple[float, float]], distance_m: float | None = None) -> Course:
        """Build a course from ``[(lon, lat), …]``; the distance defaults to the measured length."""
        arr = np.asarray(coords, dtype=float)
        lon, lat = arr[:, 0], arr[:, 1]
        course = cls(lon=lon, lat=lat, distance_m=distance_m or 1.0)
        if distance_m is None:
            object.__setattr__(course, "distance_m", course.measured_m)
        return course

    @property
    def measured_m(self) -> float:
        """Length of the polyline itself, in metres."""
        return float(self._cum_m[-1])

    @property
    def origin(self) -> tuple[float, float]:
        """The (lat, lon) the local metric projection is centred on."""
        return float(self.lat.mean()), float(self.lon.mean())

    def project(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local equirectangular projection to metres east/north of the course centre.

        Accurate to well under a metre over a few kilometres, which is all a city course needs.
        """
        lat0 = float(np.mean(self.lat))
        lon0 = float(np.mean(self.lon))
        k = math.pi / 180.0 * EARTH_RADIUS_M
        x = (np.asarray(lon, dtype=float) - lon0) * k * math.cos(math.radians(lat0))
        y = (np.asarray(lat, dtype=float) - lat0) * k
        return x, y

    def _geom_m(self, distance_m: np.ndarray | float) -> np.ndarray:
        scale = self.measured_m / self.distance_m
        geom_m: np.ndarray = np.clip(np.asarray(distance_m, dtype=float), 0.0, self.distance_m) * scale
        return geom_m

    def lonlat_at(self, distance_m: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude at race distances (clamped to the course)."""
        g = self._geom_m(distance_m)
        return np.interp(g, self._cum_m, self.lon), np.interp(g, self._cum_m, self.lat)

    def xy_at(self, distance_m: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Projected metres (east, north) at race distances (clamped to the course)."""
        g = self._geom_m(distance_m)
        return np.interp(g, self._cum_m, self._x_m), np.interp(g, self._cum_m, self._y_m)

    def locate(self, lat: float, lon: float, near_m: float | None = None) -> float:
        """Race distance of the course point nearest to (lat, lon).

        On an out-and-back course a point lies near several stretches; ``near_m`` picks the
        stretch closest to an expected distance.
        """
        (px,), (py,) = self.project(np.array([lat]), np.array([lon]))
        x0, y0 = self._x_m[:-1], self._y_m[:-1]
        dx, dy = np.diff(self._x_m), np.diff(self._y_m)
        seg2 = dx * dx + dy * dy
        t = np.clip(((px - x0) * dx + (py - y0) * dy) / np.where(seg2 > 0, seg2, 1.0), 0.0, 1.0)
        off = np.hypot(x0 + t * dx - px, y0 + t * dy - py)
        along = (self._cum_m[:-1] + t * np.sqrt(seg2)) * (self.distance_m / self.measured_m)
        if near_m is not None:
            off = off + 0.05 * np.abs(along - near_m)
        return float(along[int(np.argmin(off))])

    def coordinates(self) -> list[list[float]]:
        """The polyline as ``[[lon, lat], …]`` (the shape ``GET /api/race`` publishes)."""
        return [[float(a), float(b)] for a, b in zip(self.lon, self.lat, strict=True)]
