"""Load generator for ``pursuit bench fanout``: N spectators on the live feed, in their own process.

Prints one JSON object: clients held, frames delivered per second, the delivery delay of every
frame (its arrival at a client minus its earliest arrival at any client: the fan-out's own delay),
and bytes per client per second. Usage: ``python -m pursuit.fanout_clients URL N SECONDS``.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from collections import defaultdict

import orjson
import websockets


async def spectator(
    url: str, ready: asyncio.Event, until: list[float], arrivals: dict[int, list[float]], stats: dict[str, int]
) -> None:
    try:
        async with websockets.connect(url, compression=None, open_timeout=60, max_size=2**24) as ws:
            stats["connected"] += 1
            while not until or (left := until[0] - time.time()) > 0:
                try:
                    raw = await asyncio.wait_for(ws.recv(), left if until else 120)
                except TimeoutError:
                    break
                if not ready.is_set():
                    continue  # count from the moment every client is connected
                now = time.time()
                msg = orjson.loads(raw)
                if msg.get("type") != "tick":
                    continue  # the shared frames only: a snapshot or a follow is per client
                stats["bytes"] += len(raw)
                stats["frames"] += 1
                arrivals[msg["seq"]].append(now)
            stats["held"] += 1
    except Exception:  # a refused or dropped client is what we count, not a crash
        stats["failed"] += 1


async def main(url: str, n: int, seconds: float) -> dict[str, object]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    arrivals: dict[int, list[float]] = defaultdict(list)
    stats = {"connected": 0, "held": 0, "failed": 0, "frames": 0, "bytes": 0}
    ready = asyncio.Event()
    until: list[float] = []
    tasks = []
    for i in range(n):  # ramp up in batches so the server's accept queue keeps up
        tasks.append(asyncio.create_task(spectator(url, ready, until, arrivals, stats)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)
    ramp_start = time.time()
    while stats["connected"] + stats["failed"] < n and time.time() - ramp_start < 120:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # let everyone's snapshot drain
    start = time.time()
    until.append(start + seconds)
    ready.set()
    await asyncio.gather(*tasks)
    # the first and last ticks of the window may reach only part of the clients: keep the complete ones
    complete = [ts for ts in arrivals.values() if len(ts) >= 0.9 * stats["held"]]
    delays = sorted(t - min(ts) for ts in complete for t in ts)
    measured = seconds

    def pct(p: float) -> float | None:
        return round(delays[min(len(delays) - 1, int(p * len(delays)))] * 1000, 1) if delays else None

    return {
        "clients": n, "connected": stats["connected"], "held_to_the_end": stats["held"], "failed": stats["failed"],
        "ticks_in_window": len(complete),
        "frames_delivered_per_s": round(stats["frames"] / measured, 1),
        "delay_p50_ms": pct(0.50), "delay_p99_ms": pct(0.99),
        "bytes_per_client_per_s": round(stats["bytes"] / max(stats["connected"], 1) / measured, 1),
    }  # fmt: skip


if __name__ == "__main__":
    print(orjson.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))).decode(), flush=True)
