"""MYLAPS Timing & Scoring TCP/IP exporter protocol (V2, with V1 ``Store`` records): parse messages.

Framing: ``Source@Function[@Data…]@$`` — ``@`` separates fields, ``$`` ends a message. Source:
"MYLAPS T&S TCP-IP V2 Protocol Documentation manual ENG v2021.1" (see ``docs/PROTOCOLS.md``).
V2 ``Passing`` records are ``key=value|…`` in any order; V1 ``Store`` records are fixed-width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.protocols.common import TimeOfDayOutOfRange, Unreadable, decode_line, is_chip, seconds_of_day
from live.reads import EARLIEST_UNIX_S, EARLIEST_YEAR, LATEST_UNIX_S, LATEST_YEAR, ChipTime

MAX_MESSAGE_BYTES = 64 * 1024
_UT_RE = re.compile(r"^[0-9]{1,16}$")


@dataclass(frozen=True)
class ChipRecord:
    chip: str
    time: ChipTime
    fields: dict[str, str]

    @property
    def rssi(self) -> float | None:
        """Signal strength in dBm (``amd``), if the decoder sent it."""
        try:
            return float(self.fields["amd"]) if "amd" in self.fields else None
        except ValueError:
            return None


@dataclass(frozen=True)
class RecordError:
    index: int
    reason: str


@dataclass(frozen=True)
class Message:
    source: str
    function: str
    args: tuple[str, ...]  # the fields between the function and the closing "@$"


@dataclass(frozen=True)
class Passings:
    """A ``Passing`` (V2) or ``Store`` (V1) message: records to apply, then ack ``number``."""

    source: str
    number: str
    records: list[ChipRecord]
    errors: list[RecordError]
    v1: bool


@dataclass(frozen=True)
class Marker:
    source: str
    number: str
    kind: str  # Gunshot, Marker, …
    time: ChipTime | None


@dataclass(frozen=True)
class ParseError:
    reason: str
    raw: bytes


def split_messages(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete messages (each ending in ``$``) and the unfinished rest."""
    *messages, rest = buffer.split(b"$")
    return [m.strip(b"\r\n \t") + b"$" for m in messages if m.strip(b"\r\n \t")], rest


def parse_time_of_day(text: str, day: str | None) -> ChipTime:
    """``hh:mm:ss.fff`` local, with ``YYMMDD`` when the decoder sent a date."""
    try:
        seconds = seconds_of_day(text.strip())
    except TimeOfDayOutOfRange:
        raise ValueError(f"time {text!r} out of range") from None
    if seconds is None:
        raise ValueError(f"time {text!r} is not hh:mm:ss.fff")
    if day:
        try:
            d = datetime.strptime(day, "%y%m%d").date()
        except ValueError as exc:
            raise ValueError(f"date {day!r} is not YYMMDD") from exc
        if not EARLIEST_YEAR <= d.year <= LATEST_YEAR:
            raise ValueError(f"date {day!r} is implausible; is the decoder's clock set?")
        return ChipTime(local=datetime(d.year, d.month, d.day) + timedelta(seconds=seconds))
    return ChipTime(seconds_of_day=seconds)


def _v2_record(text: str) -> ChipRecord:
    fields: dict[str, str] = {}
    for pair in text.split("|"):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair[:30]!r} is not key=value")
        fields[key.strip()] = value.strip()
    chip = fields.get("c", "")
    if not is_chip(chip):
        raise ValueError(f"chip c={chip[:20]!r} is missing or has odd characters")
    if "ut" in fields:  # UNIX milliseconds: absolute, no time zone question
        ut = fields["ut"]
        if not _UT_RE.match(ut):
            raise ValueError(f"ut={ut[:20]!r} is not UNIX milliseconds (up to 16 digits)")
        unix_s = int(ut) / 1000.0
        if not EARLIEST_UNIX_S <= unix_s <= LATEST_UNIX_S:
            raise ValueError(f"ut={ut!r} is implausible (before 2001 or after 2079); is the decoder's clock set?")
        return ChipRecord(chip, ChipTime(unix_s=unix_s), fields)
    if "t" not in fields:
        raise ValueError("record has no time (t= or ut=)")
    return ChipRecord(chip, parse_time_of_day(fields["t"], fields.get("d")), fields)


def _v1_record(text: str) -> ChipRecord:
    """ReadLite fixed width: chip [0:7], time [7:19], …, date yyMMdd [len-8:len-2] (defensive, as racemap does)."""
    if len(text) < 27:
        raise ValueError(f"V1 record {text!r} is too short")
    chip, time_text, day = text[0:7].strip(), text[7:19].strip(), text[-8:-2]
    if not is_chip(chip):
        raise ValueError(f"chip {chip!r} has odd characters")
    return ChipRecord(chip, parse_time_of_day(time_text, day if day.isdigit() else None), {"raw": text})


def parse_message(raw: bytes) -> Message | Passings | Marker | ParseError:
    """One ``…@$`` message."""
    try:
        text = decode_line(raw, MAX_MESSAGE_BYTES, "message")
    except Unreadable as exc:
        return ParseError(str(exc), raw[:200])
    if not text.endswith("@$"):
        return ParseError("a message must end with '@$'", raw[:200])
    fields = text[:-2].split("@")
    if len(fields) < 2 or not fields[0] or not fields[1]:
        return ParseError("a message needs a source and a function", raw[:200])
    source, function, args = fields[0], fields[1], tuple(fields[2:])
    if function in ("Passing", "Store"):
        if len(args) < 2 or not args[-1].isdigit():
            return ParseError(f"{function} needs records and a message number", raw[:200])
        records, errors = [], []
        for i, rec in enumerate(args[:-1]):
            try:
                records.append(_v2_record(rec) if function == "Passing" else _v1_record(rec))
            except (ValueError, ArithmeticError) as exc:  # one bad record spoils nothing else
                errors.append(RecordError(i, str(exc)))
        return Passings(source, args[-1], records, errors, v1=function == "Store")
    if function == "Marker":
        if len(args) < 2 or not args[-1].isdigit():
            return ParseError("Marker needs data and a message number", raw[:200])
        fields_ = dict(p.partition("=")[::2] for p in args[0].split("|"))
        try:
            t = parse_time_of_day(fields_["t"], fields_.get("d")) if "t" in fields_ else None
        except (ValueError, ArithmeticError) as exc:
            return ParseError(f"marker time: {exc}", raw[:200])
        return Marker(source, args[-1], fields_.get("mt", ""), t)
    return Message(source, function, args)


def ack(server: str, function: str, *args: str) -> bytes:
    """An answer message, e.g. ``ack("pursuit", "AckPassing", "1016")``."""
    return ("@".join([server, function, *args]) + "@$").encode()
