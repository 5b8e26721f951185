"""The grammar the reader protocols share: chips, times of day, lines of text; and that the four
parsers accept the same chips and read the same times of day."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.protocols import chronotrack as ctp
from ingest.protocols import json_lines, mylaps
from ingest.protocols import raceresult as rr
from ingest.protocols.common import (
    CHIP_BYTES_RE,
    TimeOfDayOutOfRange,
    Unreadable,
    decode_line,
    is_chip,
    microseconds_of_day,
    seconds_of_day,
)


@pytest.mark.parametrize(
    ("text", "chip"),
    [
        ("058A3F", True),
        ("a", True),
        ("bib-12_b", True),
        ("X" * 64, True),
        ("X" * 65, False),
        ("", False),
        ("05 8A", False),
        ("058A3F~", False),
        ("chip.1", False),
        ("é1", False),
    ],
)
def test_a_chip_is_1_to_64_letters_digits_dashes_or_underscores(text: str, chip: bool):
    assert is_chip(text) is chip
    assert (CHIP_BYTES_RE.fullmatch(text.encode()) is not None) is chip


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("14:02:15.31", 14 * 3600 + 2 * 60 + 15.31),
        ("0:00:00", 0.0),
        ("07:05:09", 7 * 3600 + 5 * 60 + 9.0),
        ("23:59:59.999999", 86_399.999999),
        ("12:00:00.5", 43_200.5),
    ],
)
def test_a_time_of_day_is_seconds_since_midnight(text: str, seconds: float):
    assert seconds_of_day(text) == pytest.approx(seconds, abs=1e-9)
    assert microseconds_of_day(text.encode()) == round(seconds * 1_000_000)


@pytest.mark.parametrize("text", ["14:02", "14:02:15.1234567", "1874.975", "", "a4:02:15", "123:00:00", "1:2:3"])
def test_another_form_is_no_time_of_day(text: str):
    assert seconds_of_day(text) is None
    assert microseconds_of_day(text.encode()) is None


@pytest.mark.parametrize("text", ["24:00:00", "12:60:00", "12:00:60", "99:99:99.9"])
def test_a_time_of_day_out_of_range_says_so(text: str):
    with pytest.raises(TimeOfDayOutOfRange, match=f"time of day '{text}' out of range"):
        seconds_of_day(text)
    assert microseconds_of_day(text.encode()) is None


@given(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.text("0123456789", max_size=6))
def test_the_bulk_time_of_day_is_exactly_the_general_one(h: int, mi: int, s: int, digits: str):
    text = f"{h}:{mi:02d}:{s:02d}" + (f".{digits}" if digits else "")
    try:
        seconds = seconds_of_day(text)
    except TimeOfDayOutOfRange:
        assert microseconds_of_day(text.encode()) is None
        assert h > 23 or mi > 59 or s > 59
    else:
        assert seconds is not None and h <= 23 and mi <= 59 and s <= 59
        assert microseconds_of_day(text.encode()) == round(seconds * 1_000_000)


def test_a_line_is_ascii_text_stripped():
    assert decode_line(b"  CT01_33~1~finish\r\n", 1024) == "CT01_33~1~finish"
    assert decode_line(b"x" * 1024, 1024) == "x" * 1024
    with pytest.raises(Unreadable, match="^line longer than 1024 bytes$") as long:
        decode_line(b"x" * 1025, 1024)
    assert long.value.too_long
    with pytest.raises(Unreadable, match="^message longer than 10 bytes$"):
        decode_line(b"x" * 11, 10, "message")
    with pytest.raises(Unreadable, match="^not ASCII at byte 3$") as odd:
        decode_line(b"abc\xe9def", 1024)
    assert not odd.value.too_long


# What each protocol makes of a chip and of a time of day, through its own parser.
def _chip_read_by(protocol: str, chip: str) -> bool:
    if protocol == "ctp01":
        return isinstance(ctp.parse_line(f"CT01_33~1~finish~{chip}~14:02:15.31~0~POINTCAM~0".encode()), ctp.TagRead)
    if protocol == "mylaps":
        m = mylaps.parse_message(f"finish@Passing@c={chip}|t=14:02:15.310@1@$".encode())
        return isinstance(m, mylaps.Passings) and [r.chip for r in m.records] == [chip]
    if protocol == "raceresult":
        return isinstance(rr.parse_passing(f"1;{chip};0000-00-00;14:02:15.310".encode()), rr.RRPassing)
    items, _ = json_lines.parse_message(orjson.dumps({"reader": "finish", "chip": chip, "t": 1_765_000_000.0}))
    return len(items) == 1


PROTOCOLS = ("ctp01", "mylaps", "raceresult", "json")
CHIP_CHARACTERS = "0123456789ABCDEFabcxyz-_.:,~;@|=#é"


@given(st.text(CHIP_CHARACTERS, max_size=70))
def test_every_protocol_takes_the_same_chips(chip: str):
    assert {p: _chip_read_by(p, chip) for p in PROTOCOLS} == dict.fromkeys(PROTOCOLS, is_chip(chip))


def _time_read_by(protocol: str, text: str) -> float | str:
    """Seconds since midnight as the protocol reads ``text``, or the reason it gives."""
    if protocol == "ctp01":
        try:
            return ctp.parse_time(text).seconds_of_day or 0.0
        except ValueError as exc:
            return str(exc)
    if protocol == "mylaps":
        try:
            return mylaps.parse_time_of_day(text, None).seconds_of_day or 0.0
        except ValueError as exc:
            return str(exc)
    p = rr.parse_passing(f"1;058A3F;0000-00-00;{text}".encode())
    return p.reason if isinstance(p, rr.RRParseError) else p.time.seconds_of_day or 0.0


@given(st.integers(0, 30), st.integers(0, 70), st.integers(0, 70), st.text("0123456789", max_size=6))
def test_every_protocol_reads_the_same_time_of_day(h: int, mi: int, s: int, digits: str):
    text = f"{h:02d}:{mi:02d}:{s:02d}" + (f".{digits}" if digits else "")
    read = {p: _time_read_by(p, text) for p in ("ctp01", "mylaps", "raceresult")}
    if h <= 23 and mi <= 59 and s <= 59:
        assert read == dict.fromkeys(read, seconds_of_day(text))
    else:
        assert all(isinstance(r, str) and r.endswith(f"'{text}' out of range") for r in read.values()), read
