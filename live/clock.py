"""The race clock: real time on race day, or a simulated time running at a chosen speed."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

DEFAULT_TIME_WINDOW_S = 24 * 3600.0  # ``[readers] time_window_h``: how far from the race clock a time may be


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


def time_problem(t: float, near_s: float, window_s: float = DEFAULT_TIME_WINDOW_S) -> str | None:
    """Why ``t`` (unix seconds) cannot be a time of this race — not a finite number, or more than
    ``window_s`` from ``near_s`` (the race clock's now; a replay's race start) — or None if it can.

    The one check every time (read, gun, admin action, GPS fix) passes before it reaches Redis.
    """
    if not math.isfinite(t):
        return f"time {t!r} is not a finite number"
    if abs(t - near_s) <= window_s:
        return None
    shown = datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if abs(t) < 1e11 else f"{t:.6g} s"
    return (
        f"time {shown} is {(t - near_s) / 3600:+.1f} h from the race clock, more than the {window_s / 3600:g} h "
        "allowed ([readers] time_window_h); is the reader's clock set?"
    )
