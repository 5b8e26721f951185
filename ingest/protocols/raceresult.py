"""RACE RESULT decoder protocol (4000/5000 series): parse answers and passing records.

Lines end with CRLF, fields with ``;``. Passing record (protocol ≥ 1.6, fields after the time
optional here): ``<PassingNo>;<Bib/TranspCode>;<Date>;<Time>;[<EventID>];<Hits>;<MaxRSSI>;…;
<BoxName>;<FileNumber>;…`` — the date is ``0000-00-00`` (``0000-00-01`` a day later) unless the
decoder has GPS. Source: raceresult.com knowledge base (``docs/PROTOCOLS.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ingest.protocols.common import TimeOfDayOutOfRange, Unreadable, decode_line, is_chip, seconds_of_day
from live.reads import EARLIEST_YEAR, LATEST_YEAR, ChipTime

MAX_LINE_BYTES = 1024
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class RRPassing:
    number: int
    code: str  # bib or transponder code: the chip
    time: ChipTime
    hits: int | None
    rssi: float | None
    box: str | None


@dataclass(frozen=True)
class RRParseError:
    reason: str
    line: bytes
    number: int | None = None  # the passing number, when the line has one (to resume after it)


def parse_passing(raw: bytes) -> RRPassing | RRParseError:
    """One passing record, as fetched (``1;33;…``) or pushed (``#P;1;33;…``); never raises."""
    try:
        p = _parse_passing(raw)
    except (ValueError, ArithmeticError) as exc:  # a case the checks below missed: a reason, not a crash
        p = RRParseError(f"unreadable passing: {exc}", raw[:200])
    if isinstance(p, RRParseError) and p.number is None:
        head = raw[3:] if raw.startswith(b"#P;") else raw
        number = head.split(b";", 1)[0]
        if number.isdigit() and len(number) <= 12:
            p = RRParseError(p.reason, p.line, int(number))
    return p


def _parse_passing(raw: bytes) -> RRPassing | RRParseError:
    try:
        line = decode_line(raw, MAX_LINE_BYTES)
    except Unreadable as exc:
        return RRParseError(str(exc), raw[:200])
    if line.startswith("#P;"):
        line = line[3:]
    f = line.split(";")
    if len(f) < 4:
        return RRParseError(f"a passing needs at least 4 fields, got {len(f)}", raw)
    if not f[0].isdigit():
        return RRParseError(f"passing number {f[0][:20]!r} is not a whole number", raw)
    if not is_chip(f[1]):
        return RRParseError(f"transponder code {f[1][:20]!r} has odd characters", raw)
    try:
        of_day_s = seconds_of_day(f[3])
    except TimeOfDayOutOfRange:
        return RRParseError(f"time {f[3]!r} out of range", raw)
    if of_day_s is not None:
        seconds = of_day_s
    else:
        try:  # some firmware sends seconds since midnight ("1874.975")
            seconds = float(f[3])
        except ValueError:
            return RRParseError(f"time {f[3]!r} is neither hh:mm:ss.kkk nor seconds", raw)
        if not 0 <= seconds < 86400 * 7:
            return RRParseError(f"time {f[3]!r} out of range", raw)
    d = _DATE_RE.match(f[2])
    if not d:
        return RRParseError(f"date {f[2]!r} is not yyyy-MM-dd", raw)
    year, month, day = int(d[1]), int(d[2]), int(d[3])
    if year == 0:  # no GPS: 0000-00-00, then 0000-00-01 after 24 hours
        t = ChipTime(seconds_of_day=(seconds + 86400 * day) % 86400)
    else:
        if not EARLIEST_YEAR <= year <= LATEST_YEAR:
            return RRParseError(f"date {f[2]!r} is implausible; is the decoder's clock set?", raw)
        try:
            local = datetime.combine(date(year, month, day), datetime.min.time()) + timedelta(seconds=seconds)
        except ValueError:
            return RRParseError(f"date {f[2]!r} does not exist", raw)
        t = ChipTime(local=local)
    hits = int(f[5]) if len(f) > 5 and f[5].lstrip("-").isdigit() else None
    rssi = float(f[6]) if len(f) > 6 and f[6].lstrip("-").replace(".", "", 1).isdigit() else None
    box = f[16] if len(f) > 16 and f[16] else None
    return RRPassing(int(f[0]), f[1], t, hits, rssi, box)


def parse_count(raw: bytes) -> int | None:
    """``PASSINGS;<n>`` → n (None if the line is something else)."""
    parts = raw.decode("ascii", "replace").strip().split(";")
    if len(parts) >= 2 and parts[0] == "PASSINGS" and parts[1].isdigit():
        return int(parts[1])
    return None
