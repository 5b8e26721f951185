"""pursuit's native JSON reader protocol (phones, simple readers, the pursuer's GPS).

One WebSocket message is a JSON object or a list of them (SPEC §5):
``{"reader": "finish", "chip": "058A3F", "t": 1730369100.25, "rssi": -60, "seq": 17}`` or
``{"gps": {"lat": 48.87, "lon": 2.30, "t": 1730369100.0}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

from ingest.protocols.common import is_chip

MAX_MESSAGE_BYTES = 64 * 1024  # as the web server's WebSocket limit
MAX_ITEMS = 1000
EARLIEST_S = 978_307_200.0  # 2001-01-01: an unset reader clock says 2000
LATEST_S = 4_102_444_800.0  # 2100-01-01


@dataclass(frozen=True)
class JsonRead:
    reader: str
    chip: str
    time: float
    rssi: float | None
    seq: int | None


@dataclass(frozen=True)
class GpsFix:
    lat: float
    lon: float
    time: float


@dataclass(frozen=True)
class JsonError:
    reason: str
    item: int | None  # index in a list message, None for the whole message


def _time(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: t must be unix seconds, got {value!r}")
    if not EARLIEST_S <= value <= LATEST_S:
        raise ValueError(f"{where}: t {value} is not a plausible date (2001–2100); is the reader's clock set?")
    return float(value)


def _item(obj: object, where: str) -> JsonRead | GpsFix:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object")
    if "gps" in obj:
        gps = obj["gps"]
        if not isinstance(gps, dict):
            raise ValueError(f"{where}: gps must be an object with lat, lon, t")
        lat, lon = gps.get("lat"), gps.get("lon")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
            raise ValueError(f"{where}: gps lat and lon must be numbers")
        assert isinstance(lat, int | float) and isinstance(lon, int | float)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"{where}: gps position ({lat}, {lon}) is off the earth")
        return GpsFix(float(lat), float(lon), _time(gps.get("t"), where))
    reader, chip = obj.get("reader"), obj.get("chip")
    if not isinstance(reader, str) or not 0 < len(reader) <= 64:
        raise ValueError(f"{where}: reader must be a non-empty string")
    if not isinstance(chip, str) or not is_chip(chip):
        raise ValueError(f"{where}: chip must be 1–64 letters, digits, '-' or '_'")
    rssi = obj.get("rssi")
    if rssi is not None and (isinstance(rssi, bool) or not isinstance(rssi, int | float)):
        raise ValueError(f"{where}: rssi must be a number")
    seq = obj.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        raise ValueError(f"{where}: seq must be a whole number ≥ 0")
    return JsonRead(reader, chip, _time(obj.get("t"), where), float(rssi) if rssi is not None else None, seq)


def parse_message(raw: bytes | str) -> tuple[list[JsonRead | GpsFix], list[JsonError]]:
    """The good items of a message and an error for each bad one (a bad item spoils nothing else)."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_MESSAGE_BYTES:
        return [], [JsonError(f"message larger than {MAX_MESSAGE_BYTES} bytes", None)]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return [], [JsonError(f"not JSON: {exc}", None)]
    items = doc if isinstance(doc, list) else [doc]
    if len(items) > MAX_ITEMS:
        return [], [JsonError(f"more than {MAX_ITEMS} items in one message", None)]
    good: list[JsonRead | GpsFix] = []
    bad: list[JsonError] = []
    for i, obj in enumerate(items):
        try:
            good.append(_item(obj, f"item {i}" if isinstance(doc, list) else "message"))
        except ValueError as exc:
            bad.append(JsonError(str(exc), i if isinstance(doc, list) else None))
    return good, bad
