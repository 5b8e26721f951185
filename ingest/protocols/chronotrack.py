"""ChronoTrack Socket Protocol 1 (CTP01): parse lines into typed messages.

Framing is one message per CRLF-terminated line, fields separated by ``~`` (``CT01_13`` tag lines
use commas). Sources: PointCam "Integration Protocol Specification" and racemap's
2-racemap-forwarder (see ``docs/PROTOCOLS.md``). Fields 6–8 of a ``CT01_33`` line are named
differently by different sources, so they are kept as opaque metadata.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import NamedTuple

from ingest.protocols.common import CHIP_BYTES_RE, Unreadable, decode_line, is_chip, microseconds_of_day, seconds_of_day
from live.reads import (
    EARLIEST_UNIX_S,
    EARLIEST_YEAR,
    LATEST_UNIX_S,
    LATEST_YEAR,
    ChipTime,
    near_day_starts_us,
    resolve_time_of_day,
)

MAX_LINE_BYTES = 1024
MAX_FIELD_CHARS = 64

_ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$")
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Greeting:
    """``<name>~<version>~CTP01``: the opening line of either side."""

    name: str
    version: str


@dataclass(frozen=True)
class GreetingReply:
    """``<name>~<version>~<n>``: the answer to a greeting, followed by ``n`` settings lines."""

    name: str
    version: str
    settings: int


@dataclass(frozen=True)
class Setting:
    """``key=value`` after a greeting reply."""

    key: str
    value: str


@dataclass(frozen=True)
class Command:
    """A command or answer: ``ping``, ``ack~…``, ``err~…``, ``start~…``, ``getlocations`` …"""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class TagRead:
    """A chip read at a location (``CT01_33`` or ``CT01_13``)."""

    seq: int
    location: str
    chip: str
    time: ChipTime
    meta: tuple[str, ...]


@dataclass(frozen=True)
class GunTime:
    """A gun marker: the tag field ``guntime`` (a start was fired at that location)."""

    seq: int
    location: str
    time: ChipTime


@dataclass(frozen=True)
class NewLocation:
    """The tag field ``newlocation``: a reader announces a location name."""

    seq: int
    location: str


@dataclass(frozen=True)
class ParseError:
    """A line that is not valid CTP01, with the reason."""

    reason: str
    line: bytes


Message = Greeting | GreetingReply | Setting | Command | TagRead | GunTime | NewLocation

COMMANDS = frozenset(
    {"ping", "ack", "err", "start", "stop", "getlocations", "geteventinfo", "getconnectionid", "authorize"}
)


def parse_time(text: str) -> ChipTime:
    """One of the four CTP01 time formats; raises ValueError with the reason."""
    text = text.strip()
    of_day_s = seconds_of_day(text)  # raises "time of day … out of range"
    if of_day_s is not None:
        return ChipTime(seconds_of_day=of_day_s)
    m = _ISO_RE.match(text)
    if m:
        digits = m[7] or "0"
        try:
            local = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
        except ValueError as exc:
            raise ValueError(f"ISO time {text!r}: {exc}") from exc
        if not EARLIEST_YEAR <= local.year <= LATEST_YEAR:
            raise ValueError(f"date {text!r} is implausible; is the reader's clock set?")
        return ChipTime(local=local + timedelta(microseconds=round(float("0." + digits) * 1e6)))
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"time {text!r} is in no CTP01 format (hh:mm:ss.cc, ISO, unix, ms since midnight)") from None
    if value != value or value < 0:
        raise ValueError(f"time {text!r} is not a valid number")
    if "." not in text and value < MS_PER_DAY:
        return ChipTime(seconds_of_day=value / 1000.0)
    if value < MS_PER_DAY:
        raise ValueError(f"time {text!r} is neither ms since midnight (integer) nor a unix time")
    if not EARLIEST_UNIX_S <= value <= LATEST_UNIX_S:
        raise ValueError(f"unix time {text!r} is implausible (before 2001 or after 2079); is the reader's clock set?")
    return ChipTime(unix_s=value)


def parse_line(raw: bytes) -> Message | ParseError:
    """Parse one line (without or with its CRLF) into a message, or say why it is not one."""
    try:
        line = decode_line(raw, MAX_LINE_BYTES)
    except Unreadable as exc:
        return ParseError(str(exc), raw[:200] if exc.too_long else raw)
    if not line:
        return ParseError("empty line", raw)
    if line.startswith("CT01_13"):
        return _parse_tag([f.strip() for f in line.split(",")], raw)
    fields = line.split("~")
    head = fields[0]
    if head == "CT01_33":
        return _parse_tag(fields, raw)
    if len(fields) == 1 and "=" in head:
        key, _, value = head.partition("=")
        if not key.strip():
            return ParseError("setting without a key", raw)
        return Setting(key.strip(), value.strip())
    if head.lower() in COMMANDS:
        return Command(head.lower(), tuple(fields[1:]))
    if len(fields) == 3:
        name, version, third = fields
        if third == "CTP01":
            return Greeting(name, version)
        if third.isdigit() and int(third) <= 64:
            return GreetingReply(name, version, int(third))
    return ParseError(f"unknown message {head[:40]!r}", raw)


def _parse_tag(fields: list[str], raw: bytes) -> Message | ParseError:
    proto = fields[0]
    if len(fields) != 8:
        return ParseError(f"{proto} needs 8 fields, got {len(fields)}", raw)
    _, seq_s, location, tag, time_s, *meta = fields
    if not seq_s.isdigit():
        return ParseError(f"sequence number {seq_s[:20]!r} is not a whole number", raw)
    seq = int(seq_s)
    if not location or len(location) > MAX_FIELD_CHARS:
        return ParseError("location is empty or too long", raw)
    if tag == "newlocation":
        return NewLocation(seq, location)
    try:
        t = parse_time(time_s)
    except ValueError as exc:
        return ParseError(str(exc), raw)
    if tag == "guntime":
        return GunTime(seq, location, t)
    if not is_chip(tag):
        return ParseError(f"chip {tag[:20]!r} has characters other than letters, digits, '-' or '_'", raw)
    return TagRead(seq, location, tag, t, tuple(meta))


class TimedRead(NamedTuple):
    """A ``CT01_33`` tag read with its time resolved to unix seconds (see :func:`parse_tag_reads`)."""

    seq: int
    location: str
    chip: str
    time_s: float


def parse_tag_reads(lines: Sequence[bytes], tz: tzinfo, near_unix_s: float) -> list[TimedRead | None]:
    """The ``CT01_33`` tag reads among ``lines``, times resolved as :meth:`ChipTime.resolve` does; None
    for every other line (handshake, command, marker, ``CT01_13``, malformed: :func:`parse_line` says).

    The bulk path of ingest, for the many tag lines of a batch: the same reads :func:`parse_line` gives,
    without building a message and a ``ChipTime`` per line. Lines without CRLF.
    """
    starts = near_day_starts_us(near_unix_s, tz)
    out: list[TimedRead | None] = []
    append = out.append
    for raw in lines:
        fields = raw.split(b"~")
        if len(fields) != 8 or fields[0] != b"CT01_33" or len(raw) > MAX_LINE_BYTES or not raw.isascii():
            append(None)
            continue
        seq, location, tag, text = fields[1], fields[2], fields[3], fields[4]
        if (
            not seq.isdigit()
            or not 0 < len(location) <= MAX_FIELD_CHARS
            or CHIP_BYTES_RE.fullmatch(tag) is None
            or tag == b"guntime"
            or tag == b"newlocation"
        ):
            append(None)
            continue
        us = microseconds_of_day(text)
        if us is None:  # another time format, or out of range: the general parser says which
            try:
                t = parse_time(text.decode()).resolve(tz, near_unix_s)
            except ValueError:
                append(None)
                continue
        else:
            if starts is None:
                t = resolve_time_of_day(us, tz, near_unix_s)
            else:  # resolve_time_of_day, inline
                t = (starts[0] + us) / 1_000_000
                for start_us in starts[1:]:
                    c = (start_us + us) / 1_000_000
                    if abs(c - near_unix_s) < abs(t - near_unix_s):
                        t = c
        append(TimedRead(int(seq), location.decode(), tag.decode(), t))
    return out
