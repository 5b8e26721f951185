"""A pursuer who follows a speed schedule (a "catcher car") rather than his own legs.

Wings for Life World Run (2014–2018): the car leaves 30 min after the runners at 15 km/h, then
16 km/h from 1 h after its start, 17 km/h from 2 h, 20 km/h from 3 h and 35 km/h from 5 h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpeedSchedule:
    """Speeds by time since the pursuer's start: ``steps`` of (from_s, km/h), from_s increasing, first 0."""

    steps: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.steps or self.steps[0][0] != 0:
            raise ValueError("a speed schedule starts at 0 s")
        froms = [s for s, _ in self.steps]
        if froms != sorted(froms) or len(set(froms)) != len(froms):
            raise ValueError("schedule times must increase")
        if any(v <= 0 for _, v in self.steps):
            raise ValueError("schedule speeds must be positive")

    @property
    def _from_s(self) -> np.ndarray:
        return np.array([s for s, _ in self.steps], dtype=float)

    @property
    def _speed_m_s(self) -> np.ndarray:
        return np.array([v for _, v in self.steps], dtype=float) / 3.6

    @property
    def _distance_at_step(self) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(np.diff(self._from_s) * self._speed_m_s[:-1])])

    def distance_at(self, elapsed_s: np.ndarray | float) -> np.ndarray:
        """Metres covered after ``elapsed_s`` seconds (0 before the start)."""
        t = np.maximum(np.asarray(elapsed_s, dtype=float), 0.0)
        i = np.searchsorted(self._from_s, t, side="right") - 1
        distance_m: np.ndarray = self._distance_at_step[i] + (t - self._from_s[i]) * self._speed_m_s[i]
        return distance_m

    def elapsed_at(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Seconds after the start at which ``distance_m`` is reached."""
        d = np.maximum(np.asarray(distance_m, dtype=float), 0.0)
        i = np.searchsorted(self._distance_at_step, d, side="right") - 1
        elapsed_s: np.ndarray = self._from_s[i] + (d - self._distance_at_step[i]) / self._speed_m_s[i]
        return elapsed_s

    def speed_at(self, elapsed_s: float) -> float:
        """Speed in m/s at ``elapsed_s`` after the start."""
        i = int(np.searchsorted(self._from_s, max(elapsed_s, 0.0), side="right") - 1)
        return float(self._speed_m_s[i])


WINGS_FOR_LIFE = SpeedSchedule(((0, 15.0), (3600, 16.0), (7200, 17.0), (10800, 20.0), (18000, 35.0)))
WINGS_FOR_LIFE_DELAY_S = 1800.0
