"""The parts of the ingest latency benchmark: the planned reads, the paced phases that send them,
watching the passings stream and the live feed for them, and the latency figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.request import urlopen

import numpy as np
import orjson
import redis.asyncio as aioredis

from live.race.race import Race
from pursuit.bench.common import percentiles_ms

LATENCY_RATES = (3_000, 50_000)  # reads/s: a big race's peak at its busiest mats, then near the ceiling
LATENCY_SECONDS = 4.0  # of steady reads per rate
READS_PER_CROSSING = 3  # a mat reads a chip a few times as it crosses; only the first makes a passing
REPEAT_GAP_S = 0.25  # between those reads
DRAIN_TIMEOUT_S = 20.0  # after the last read, for the last passings to show
FEED_WAIT_S = 3.0  # after the last passing showed, for the ticks that carry it (one a second)


@dataclass
class Plan:
    """Reads at a steady rate: when each is due (seconds from the start, sorted), the crossing of each
    ((chip, bib, mat) in ``crossings``), and for the first read of a crossing that crossing (else -1)."""

    due_s: np.ndarray
    crossing: np.ndarray
    opens: np.ndarray
    crossings: list[tuple[str, str, str]]

    @classmethod
    def steady(cls, crossings: list[tuple[str, str, str]], rate: float) -> Plan:
        """``READS_PER_CROSSING`` reads per crossing, ``REPEAT_GAP_S`` apart, ``rate`` reads a second."""
        n = len(crossings)
        at = np.arange(n) * READS_PER_CROSSING / rate
        due = np.concatenate([at + j * REPEAT_GAP_S for j in range(READS_PER_CROSSING)])
        crossing = np.tile(np.arange(n), READS_PER_CROSSING)
        first = np.arange(n * READS_PER_CROSSING) < n
        order = np.argsort(due, kind="stable")
        return cls(due[order], crossing[order], np.where(first, crossing, -1)[order], crossings)

    def chronotrack_lines(self, race: Race, start_wall: float, seq0: int) -> list[bytes]:
        """Each read as a ``CT01_33`` line stamped with its due time of day in the race's zone."""
        local = datetime.fromtimestamp(start_wall, race.timezone)
        day_s = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        hundredths = ((day_s + self.due_s) * 100).astype(np.int64) % 8_640_000
        lines = []
        for i, (c, h) in enumerate(zip(self.crossing.tolist(), hundredths.tolist(), strict=True)):
            chip, _, mat = self.crossings[c]
            hh, rest = divmod(h, 360_000)
            mm, rest = divmod(rest, 6_000)
            ss, cs = divmod(rest, 100)
            lines.append(f"CT01_33~{seq0 + i}~{mat}~{chip}~{hh:02d}:{mm:02d}:{ss:02d}.{cs:02d}~0~BENCH1~1\r\n".encode())
        return lines

    def bare_xadds(self, key: str) -> list[bytes]:
        """Each read as one pre-encoded ``XADD key * c <crossing it opens, or -1>``: the bare write."""
        return [resp("XADD", key, "*", "c", str(c)) for c in self.opens.tolist()]


def resp(*args: str) -> bytes:
    return f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)


@dataclass
class Phase:
    """What one paced run saw: per crossing, when its first read was written and when its passing
    showed in Redis (and in a ``/ws/live`` tick), ``perf_counter`` seconds, nan until then."""

    plan: Plan
    written: np.ndarray
    state: np.ndarray
    feed: np.ndarray
    lag_s: list[float]  # per write, how late its earliest read went out

    @classmethod
    def of(cls, plan: Plan) -> Phase:
        n = len(plan.crossings)
        return cls(plan, np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan), [])

    def saw(self, seen: np.ndarray, c: int, at: float) -> None:
        if 0 <= c < len(seen) and seen[c] != seen[c] and self.written[c] == self.written[c]:
            seen[c] = at


async def pace(phase: Phase, payload: list[bytes], write: Callable[[bytes], object]) -> float:
    """Write ``payload[i]`` when read i is due, as many as are due at each wake-up (asyncio's timer
    wakes about every millisecond); returns the seconds it took."""
    due, opens = phase.plan.due_s, phase.plan.opens
    n, i = len(due), 0
    t0 = time.perf_counter()
    while i < n:
        now = time.perf_counter()
        j = int(np.searchsorted(due, now - t0, side="right"))
        if j > i:
            write(b"".join(payload[i:j]))
            opened = opens[i:j]
            phase.written[opened[opened >= 0]] = now
            phase.lag_s.append(now - t0 - float(due[i]))
            i = j
        if i < n:
            await asyncio.sleep(max(0.0, float(due[i]) - (time.perf_counter() - t0)))
    return time.perf_counter() - t0


async def watch_stream(
    redis: aioredis.Redis, key: str, after: str, on: Callable[[dict[bytes, bytes], float], None], stop: asyncio.Event
) -> None:
    """XREAD BLOCK on ``key`` from ``after``: ``on(fields, perf_counter at arrival)`` per entry."""
    while not stop.is_set():
        reply = await redis.xread({key: after}, count=20_000, block=100)
        at = time.perf_counter()
        for _, entries in reply:
            for _, fields in entries:
                on(fields, at)
            after = entries[-1][0]


async def watch_feed(
    url: str, bibs: list[str], on: Callable[[str, float], None], counts: dict[str, int], stop: asyncio.Event
) -> None:
    """A spectator on ``/ws/live``: ``on(bib, perf_counter at arrival)`` for every runner a tick carries."""
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None, compression=None) as ws:
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(decode=False), 0.2)
            except TimeoutError:
                continue
            at = time.perf_counter()
            body = orjson.loads(message)
            counts[body.get("type", "?")] = counts.get(body.get("type", "?"), 0) + 1
            if body.get("type") == "tick":
                for row in body["changed"]["index"]:
                    on(bibs[row], at)


def get_json(url: str) -> Any:
    with urlopen(url, timeout=10) as response:  # noqa: S310  # our own server on 127.0.0.1
        return orjson.loads(response.read())


async def serving(base: str, timeout_s: float = 60.0) -> None:
    """Until the web process answers ``/healthz`` with a tick done."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if (await asyncio.to_thread(get_json, f"{base}/healthz")).get("ok"):
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"pursuit serve did not become healthy at {base} within {timeout_s:.0f} s")


async def settle(seen: np.ndarray, awaited: np.ndarray, timeout_s: float) -> None:
    """Until every ``awaited`` crossing has shown in ``seen``, or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and np.isnan(seen[awaited]).any():  # noqa: ASYNC110  # polled by design
        await asyncio.sleep(0.05)


def latencies(phase: Phase, seen: np.ndarray, tracked: np.ndarray | None = None) -> dict[str, Any]:
    """Percentiles of written → seen over the ``tracked`` crossings (all by default) that were written."""
    written = ~np.isnan(phase.written) if tracked is None else ~np.isnan(phase.written) & tracked
    ok = written & ~np.isnan(seen)
    return {
        "count": int(ok.sum()),
        "missing": int((written & np.isnan(seen)).sum()),
        **percentiles_ms((seen[ok] - phase.written[ok]).tolist()),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 1)
