"""The grammar every reader protocol shares: a chip code, a time of day, a line of ASCII text.

Each protocol module keeps its own framing, fields and wording of errors; what a chip or a time of
day looks like is written once, here, so the four parsers accept the same ones.
"""

from __future__ import annotations

import re

# A chip (a transponder code, or a bib where the decoder sends one): 1 to 64 letters, digits, '-', '_'.
# Matched with ``^…$`` as the parsers always did, so a final newline passes ("ABC\n" is a chip): kept,
# since this module changes no parser's behaviour; ``fullmatch`` would refuse it.
CHIP_PATTERN = r"[0-9A-Za-z_\-]{1,64}"
CHIP_RE = re.compile(rf"^{CHIP_PATTERN}$")
CHIP_BYTES_RE = re.compile(CHIP_PATTERN.encode())  # for fullmatch on raw fields (the bulk CTP01 path)

# A local time of day: hh:mm:ss with up to six decimals (hour 0-23 with one or two digits).
TIME_OF_DAY_PATTERN = r"(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
TIME_OF_DAY_RE = re.compile(rf"^{TIME_OF_DAY_PATTERN}$")
TIME_OF_DAY_BYTES_RE = re.compile(TIME_OF_DAY_PATTERN.encode())  # for fullmatch on raw fields


class TimeOfDayOutOfRange(ValueError):
    """A time of day in the right form whose hour is past 23 or minute or second past 59."""


class Unreadable(ValueError):
    """A line or message that is no text: longer than allowed (``too_long``) or not ASCII."""

    def __init__(self, reason: str, *, too_long: bool) -> None:
        super().__init__(reason)
        self.too_long = too_long


def is_chip(text: str) -> bool:
    """Whether ``text`` is a chip code (1 to 64 letters, digits, '-' or '_')."""
    return CHIP_RE.match(text) is not None


def seconds_of_day(text: str) -> float | None:
    """Seconds since midnight of ``hh:mm:ss[.ffffff]``, None if ``text`` has another form.

    Raises :class:`TimeOfDayOutOfRange` (a ValueError) for an hour past 23 or a minute or second past 59;
    the caller says which field of its line it was.
    """
    m = TIME_OF_DAY_RE.match(text)
    if m is None:
        return None
    h, mi, s = int(m[1]), int(m[2]), int(m[3])
    if h > 23 or mi > 59 or s > 59:
        raise TimeOfDayOutOfRange(f"time of day {text!r} out of range")
    return h * 3600 + mi * 60 + s + (float("0." + m[4]) if m[4] else 0.0)


def microseconds_of_day(raw: bytes) -> int | None:
    """Whole microseconds since midnight of ``hh:mm:ss[.ffffff]`` in raw bytes; None if ``raw`` has
    another form or is out of range. The bulk path's :func:`seconds_of_day`, exact to the microsecond."""
    m = TIME_OF_DAY_BYTES_RE.fullmatch(raw)
    if m is None:
        return None
    h, mi, s, frac = m.groups()
    hours, minutes, seconds = int(h), int(mi), int(s)
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return (hours * 3600 + minutes * 60 + seconds) * 1_000_000 + (int(frac.ljust(6, b"0")) if frac else 0)


def decode_line(raw: bytes, max_bytes: int, unit: str = "line") -> str:
    """The text of one line or message (``unit`` names it in the reason): ASCII, stripped of white space.

    Raises :class:`Unreadable` if it is longer than ``max_bytes`` or not ASCII.
    """
    if len(raw) > max_bytes:
        raise Unreadable(f"{unit} longer than {max_bytes} bytes", too_long=True)
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not ASCII at byte {exc.start}", too_long=False) from None
