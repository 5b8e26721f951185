"""The race clock: real time on race day, or a simulated time running at a chosen speed."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RaceClock:
    """Race time as unix seconds: ``origin_race + (wall − origin_wall) × speed``.

    On race day ``speed`` is 1 and both origins are equal, so race time is wall time. A simulation
    at ``speed`` 20 makes twenty race seconds pass per wall second; every process that reads the
    same clock (from Redis) agrees on what "now" is.
    """

    origin_wall: float
    origin_race: float
    speed: float = 1.0

    @classmethod
    def real_time(cls) -> RaceClock:
        now = time.time()
        return cls(origin_wall=now, origin_race=now, speed=1.0)

    def now(self) -> float:
        """Race time now, unix seconds."""
        return self.at_wall(time.time())

    def at_wall(self, wall: float) -> float:
        """Race time at a given wall-clock time."""
        return self.origin_race + (wall - self.origin_wall) * self.speed

    def wall_at(self, race_time: float) -> float:
        """Wall-clock time at which the race clock shows ``race_time``."""
        return self.origin_wall + (race_time - self.origin_race) / self.speed

    def as_fields(self) -> dict[str, str]:
        return {"origin_wall": repr(self.origin_wall), "origin_race": repr(self.origin_race), "speed": repr(self.speed)}

    @classmethod
    def from_fields(cls, fields: dict[str, str] | dict[bytes, bytes]) -> RaceClock:
        f = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        return cls(origin_wall=float(f["origin_wall"]), origin_race=float(f["origin_race"]), speed=float(f["speed"]))
