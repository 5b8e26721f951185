"""What the web edge's handlers share: JSON responses and errors, numbers and times as sent, stream ids.

A handler returns its answer, or refuses the request by raising ``refuse(status, message)`` (an
``HTTPException``); every route of the web edge is built by ``api_route``, whose one handler,
``error_of``, answers the refusal with the one error shape (``error_body``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# a Redis stream id: ``ms`` or ``ms-seq``, each part at most 19 digits (Redis refuses one above
# 2^64 - 1, a 20-digit number; event ids are 13-digit milliseconds and small sequence numbers)
STREAM_ID = re.compile(r"^(\d{1,19})(?:-(\d{1,19}))?$")
RACE_BASE = "pursuit.race_base"  # scope key: the path an event's race is served under (/races/10k), if any
NOT_READY = "the live engine has not computed a state yet; retry in a second"


class JSONResponse(Response):
    """A JSON body serialised by orjson (NumPy scalars and arrays allowed)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


Endpoint = Callable[[Request], Awaitable[Response]]


def error_body(status: int, message: str) -> dict[str, Any]:
    """The error body every route answers with: ``{"error": message, "status": status}``."""
    return {"error": message, "status": status}


def error(status: int, message: str) -> JSONResponse:
    """The error answer every route gives: :func:`error_body` with ``status``."""
    return JSONResponse(error_body(status, message), status_code=status)


def refuse(status: int, message: str, headers: Mapping[str, str] | None = None) -> HTTPException:
    """What a handler raises to answer ``error(status, message)`` (with ``headers``, e.g. ``Retry-After``)."""
    return HTTPException(status, message, headers)


def error_of(exc: HTTPException) -> JSONResponse:
    """The answer to a raised ``HTTPException``: :func:`error` with its status, message and headers."""
    response = error(exc.status_code, exc.detail)
    response.headers.update(exc.headers or {})
    return response


def answers_errors(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` with the ``HTTPException`` it raises answered by :func:`error_of`."""

    @functools.wraps(endpoint)
    async def answered(request: Request) -> Response:
        try:
            return await endpoint(request)
        except HTTPException as exc:
            return error_of(exc)

    return answered


def api_route(path: str, endpoint: Endpoint, methods: list[str] | None = None) -> Route:
    """A route of the web edge: ``endpoint`` at ``path``, its refusals answered by :func:`error_of`."""
    return Route(path, answers_errors(endpoint), methods=methods)


def is_stream_id(value: str) -> bool:
    """Whether ``value`` is a Redis stream id (``1700000000000-0`` or ``1700000000000``) Redis takes."""
    return STREAM_ID.match(value) is not None


def num(x: float | None, digits: int = 1) -> float | None:
    """A number as sent: rounded to ``digits``, None where missing or not finite."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def iso_time(unix_s: float | None, tz: ZoneInfo) -> str | None:
    """A unix time as ISO 8601 in the race's time zone, to the millisecond; None where missing or
    beyond any calendar (never raises: a time stored by mistake must not make an answer a 500)."""
    if unix_s is None or not math.isfinite(unix_s):
        return None
    try:
        return datetime.fromtimestamp(unix_s, tz).isoformat(timespec="milliseconds")
    except (ValueError, OverflowError, OSError):
        return None
