"""A read at a mat: ``RawRead`` (a chip at a mat at a unix time, what the store applies) and
``ChipTime`` (a time as a reader sent it: absolute, a local date and time, or a time of day), with the
rules that resolve a reader's time in the race's time zone. Shared by every reader protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import NamedTuple

# Unset reader clocks say 2000 or 2080 (a ChronoTrack .MRK shows a jump from 2080-01-01).
EARLIEST_YEAR, LATEST_YEAR = 2001, 2079
EARLIEST_UNIX_S, LATEST_UNIX_S = 978_307_200.0, 3_471_292_800.0


class RawRead(NamedTuple):
    """One read of a chip at a mat, time already normalised to unix seconds.

    A named tuple rather than a frozen dataclass: ingest builds one per raw read, and a named tuple
    is built in a third of the time.
    """

    mat: str
    chip: str
    time: float
    rssi: float | None = None  # signal strength, where the reader sends it (peak-RSSI mats use it)


@dataclass(frozen=True)
class ChipTime:
    """A time as a reader sent it: absolute (unix seconds), local date and time, or time of day.

    Exactly one of ``unix_s``, ``local`` or ``seconds_of_day`` is set.
    """

    unix_s: float | None = None
    local: datetime | None = None  # naive; the race's time zone applies
    seconds_of_day: float | None = None

    def resolve(self, tz: tzinfo, near_unix_s: float) -> float:
        """Unix seconds: local times in ``tz``; a time of day takes the date that puts it nearest ``near_unix_s``."""
        if self.unix_s is not None:
            return self.unix_s
        if self.local is not None:
            return resolve_local(self.local, tz)
        assert self.seconds_of_day is not None
        return resolve_time_of_day(_whole_us(self.seconds_of_day), tz, near_unix_s)


def resolve_local(local: datetime, tz: tzinfo) -> float:
    """Unix seconds of a naive local date and time in ``tz``."""
    start_us = _day_start_us(local.date(), tz)
    if start_us is None:  # the clocks change that day
        return local.replace(tzinfo=tz).timestamp()
    of_day = (local.hour * 3600 + local.minute * 60 + local.second) * 1_000_000 + local.microsecond
    return (start_us + of_day) / 1_000_000


def resolve_time_of_day(us_of_day: int, tz: tzinfo, near_unix_s: float) -> float:
    """Unix seconds of a time of day (in whole microseconds) in ``tz``, on the date nearest ``near_unix_s``.

    The exact result of :func:`_local_time` on the day before, of and after ``near_unix_s``, the nearest
    one (the earliest on a tie), without building datetimes: a read costs a cached lookup and a sum.
    """
    starts = near_day_starts_us(near_unix_s, tz)
    if starts is None:  # the clocks change on one of the three days
        return _resolve_by_datetimes(us_of_day / 1_000_000, tz, near_unix_s)
    best = (starts[0] + us_of_day) / 1_000_000
    for start_us in starts[1:]:
        t = (start_us + us_of_day) / 1_000_000
        if abs(t - near_unix_s) < abs(best - near_unix_s):
            best = t
    return best


def _whole_us(seconds: float) -> int:
    """Whole microseconds of a duration, rounded as ``timedelta(seconds=...)`` rounds them."""
    whole = int(seconds)
    return whole * 1_000_000 + round((seconds - whole) * 1e6)


@lru_cache(maxsize=16)
def near_day_starts_us(near_unix_s: float, tz: tzinfo) -> tuple[int, int, int] | None:
    """Start (local midnight, unix microseconds) of the day before, of and after ``near_unix_s`` in ``tz``;
    None if the clocks change on one of them. A batch of reads shares one ``near_unix_s``."""
    today = datetime.fromtimestamp(near_unix_s, tz).date()
    starts = tuple(_day_start_us(today + timedelta(days=offset), tz) for offset in (-1, 0, 1))
    if None in starts:
        return None
    return starts  # type: ignore[return-value]


@lru_cache(maxsize=64)
def _day_start_us(day: date, tz: tzinfo) -> int | None:
    """Unix microseconds of local midnight on ``day`` in ``tz``, or None if the UTC offset changes during it.

    On a day with one UTC offset throughout, a wall-clock time is that midnight plus the time of day.
    The offset is sampled every quarter hour (every zone changes its clocks on a whole quarter hour or
    less often than twice in fifteen minutes), and at the next midnight.
    """
    midnight = datetime(day.year, day.month, day.day)
    offset = tz.utcoffset(midnight)
    for quarter in range(1, 97):
        if tz.utcoffset(midnight + timedelta(minutes=15 * quarter)) != offset:
            return None
    if offset is None or offset % timedelta(seconds=1):
        return None
    return round(midnight.replace(tzinfo=tz).timestamp()) * 1_000_000


def _resolve_by_datetimes(seconds_of_day: float, tz: tzinfo, near_unix_s: float) -> float:
    """The time of day on the date nearest ``near_unix_s``, with datetimes (right on days the clocks change)."""
    today = datetime.fromtimestamp(near_unix_s, tz).date()
    best: float | None = None
    for offset in (-1, 0, 1):
        day = today + timedelta(days=offset)
        t = _local_time(day, seconds_of_day, tz)
        if best is None or abs(t - near_unix_s) < abs(best - near_unix_s):
            best = t
    assert best is not None
    return best


def _local_time(day: date, seconds_of_day: float, tz: tzinfo) -> float:
    """Unix time of a wall-clock time on a local date (right on the days the clocks change)."""
    naive = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds_of_day)
    return naive.replace(tzinfo=tz).timestamp()
