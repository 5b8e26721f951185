"""What race control sends: a JSON object body, and the time an action is for (checked as the
readers' times are)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request

from live.clock import time_problem
from live.race.race import Race
from live.reads import resolve_time_of_day
from web.http import refuse

MAX_BODY_BYTES = 10_000
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?", re.ASCII)  # HH:MM[:SS[.ffffff]]


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (``{}`` when empty); a 400 for anything else or too large."""
    raw = await request.body()
    if not raw:
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise refuse(400, "request body too large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise refuse(400, f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise refuse(400, "body must be a JSON object")
    return body


def action_time(value: object, race: Race, now: float) -> float:
    """The body's ``time`` (ISO 8601 with offset, a time of day ``HH:MM[:SS[.fff]]`` in the race's zone
    on the date nearest the race clock, or unix seconds); ``now`` (the race clock) if absent."""
    if value is None:
        return now
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        t = float(value)
    elif isinstance(value, str) and (m := _TIME_OF_DAY.fullmatch(value.strip())):
        # a time of day as race control types it: the date that puts it nearest the race clock, so
        # a gun typed at 00:05 for 23:58 is the night before (readers' times of day resolve alike)
        h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
        if h > 23 or mi > 59 or s > 59:
            raise refuse(422, f"time of day {value!r} is out of range (00:00:00 to 23:59:59)")
        us = ((h * 60 + mi) * 60 + s) * 1_000_000 + round(float("0." + (m[4] or "0")) * 1e6)
        t = resolve_time_of_day(us, race.timezone, now)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise refuse(422, f"time {value!r} is not ISO 8601") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=race.timezone)
        t = parsed.timestamp()
    else:
        raise refuse(422, "time must be ISO 8601 text or unix seconds")
    if (why := time_problem(t, now, race.readers.time_window_s)) is not None:
        raise refuse(422, why)
    return t
