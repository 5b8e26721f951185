"""Numbers, durations and distances as each language writes them ("1 126", "4,68 km" in French)."""

from __future__ import annotations

import math

from babel.numbers import format_decimal, format_percent

DASH = "–"


def integer(n: float | None, language: str) -> str:
    """``1,126`` / ``1 126`` (a narrow no-break space, as Babel's French locale gives)."""
    if n is None or (isinstance(n, float) and not math.isfinite(n)):
        return DASH
    return format_decimal(round(n), locale=language)


def decimal(x: float | None, digits: int, language: str) -> str:
    """``x`` with exactly ``digits`` decimals: ``4.68`` / ``4,68``."""
    if x is None or not math.isfinite(x):
        return DASH
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(x, format=pattern, locale=language)


def percent(share: float | None, language: str) -> str:
    """``0.8`` as ``80%`` / ``80 %`` (French: a narrow no-break space before the sign)."""
    if share is None or not math.isfinite(share):
        return DASH
    return format_percent(share, locale=language)


def km(metres: float | None, language: str, digits: int = 2) -> str:
    """A distance in km: ``4.68 km`` / ``4,68 km``."""
    return DASH if metres is None else f"{decimal(metres / 1000, digits, language)} km"


def clock(seconds: float | None) -> str:
    """A duration as ``3:25`` or ``1:03:25`` (the same in both languages)."""
    if seconds is None or not math.isfinite(seconds):
        return DASH
    s = max(0, round(seconds))
    h, m, x = s // 3600, s % 3600 // 60, s % 60
    return f"{h}:{m:02d}:{x:02d}" if h else f"{m}:{x:02d}"
