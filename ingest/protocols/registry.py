"""Every reader protocol pursuit speaks, in one table: how to recognise its backup file, cut it into
lines or messages, and turn one of them into reads, guns and GPS fixes. Replaying files and rebuilding
from the journal go through this table; a new protocol is its parser (in this package), its server or
client (in ``ingest/``) and one entry here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ingest.protocols import chronotrack as ctp
from ingest.protocols import json_lines, mylaps
from ingest.protocols import raceresult as rr
from live.reads import ChipTime


@dataclass(frozen=True)
class Read:
    """A chip read at a reader location (a mat id or alias; empty where the connection names the mat)."""

    location: str
    chip: str
    time: ChipTime
    rssi: float | None = None


@dataclass(frozen=True)
class Gun:
    """A gun marker sent by a reader."""

    location: str
    time: ChipTime


@dataclass(frozen=True)
class Fix:
    """The pursuer's GPS position."""

    lat: float
    lon: float
    time: ChipTime


Item = Read | Gun | Fix
Decoded = tuple[list[Item], list[str]]  # what one line or message holds, and its records' problems


@dataclass(frozen=True)
class ReaderProtocol:
    """One protocol as replay and rebuild see it."""

    name: str  # as the journal names it (``replay-`` in front for replayed files)
    unit: str  # "line" or "message", in error reports
    detect: Callable[[bytes], bool]  # is this the first line of one of its backup files?
    split: Callable[[bytes], list[bytes]]  # a backup file into lines or messages
    decode: Callable[[bytes], Decoded]  # one of them; ValueError with the reason if unreadable
    gun_hint: bytes | None = None  # bytes in every unit that holds a gun (finds the first gun cheaply)
    connection_names_mat: bool = False  # the journaled mat (the connection's) wins over the record's


def _lines(data: bytes) -> list[bytes]:
    return [ln.rstrip(b"\r") for ln in data.split(b"\n")]


def _ctp01(raw: bytes) -> Decoded:
    msg = ctp.parse_line(raw)
    if isinstance(msg, ctp.ParseError):
        raise ValueError(msg.reason)
    if isinstance(msg, ctp.GunTime):
        return [Gun(msg.location, msg.time)], []
    if isinstance(msg, ctp.TagRead):
        return [Read(msg.location, msg.chip, msg.time)], []
    return [], []


def _mylaps(raw: bytes) -> Decoded:
    m = mylaps.parse_message(raw)
    if isinstance(m, mylaps.ParseError):
        raise ValueError(m.reason)
    if isinstance(m, mylaps.Marker) and m.kind == "Gunshot" and m.time is not None:
        return [Gun(m.source, m.time)], []
    if isinstance(m, mylaps.Passings):
        problems = [f"record {e.index}: {e.reason}" for e in m.errors]
        return [Read(m.source, r.chip, r.time) for r in m.records], problems
    return [], []


def _raceresult(raw: bytes) -> Decoded:
    p = rr.parse_passing(raw)
    if isinstance(p, rr.RRParseError):
        raise ValueError(p.reason)
    # a passing file names its decoder in <BoxName>: the mat's id or one of its aliases
    return [Read(p.box or "", p.code, p.time, p.rssi)], []


def _json(raw: bytes) -> Decoded:
    items, errors = json_lines.parse_message(raw)
    out: list[Item] = [
        Read(i.reader, i.chip, ChipTime(unix_s=i.time))
        if isinstance(i, json_lines.JsonRead)
        else Fix(i.lat, i.lon, ChipTime(unix_s=i.time))
        for i in items
    ]
    return out, [e.reason for e in errors]


_RACERESULT_FILE = re.compile(rb"^(#P;)?\d+;[^;]*;\d{4}-\d{2}-\d{2};")

PROTOCOLS: dict[str, ReaderProtocol] = {
    p.name: p
    for p in (
        ReaderProtocol(
            "ctp01", "line", lambda t: t.startswith((b"CT01_", b"TO~")) or b"~CTP01" in t, _lines, _ctp01, b"guntime"
        ),
        ReaderProtocol(
            "raceresult",
            "line",
            lambda t: bool(_RACERESULT_FILE.match(t)),
            _lines,
            _raceresult,
            connection_names_mat=True,
        ),
        ReaderProtocol("json", "line", lambda t: t.startswith((b"{", b"[")), _lines, _json),
        ReaderProtocol(
            "mylaps",
            "message",
            lambda t: t.endswith(b"$") and b"@" in t,
            lambda d: mylaps.split_messages(d)[0],
            _mylaps,
            b"Gunshot",
        ),
    )
}


def protocol_of(journaled: str) -> ReaderProtocol | None:
    """The protocol a journal entry names (``ctp01``, ``replay-ctp01``, …), None if unknown."""
    return PROTOCOLS.get(journaled.removeprefix("replay-"))


def detect_protocol(first_line: bytes) -> ReaderProtocol:
    """The protocol of a backup file from its first line (tried in table order)."""
    text = first_line.strip()
    for protocol in PROTOCOLS.values():
        if protocol.detect(text):
            return protocol
    raise ValueError(
        f"cannot tell the protocol of {first_line[:60]!r}: expected CT01_…, …@$, JSON or a RACE RESULT passing"
    )
