"""Load generator for ``pursuit bench fanout``: N spectators on the live feed, in their own process.

Usage: ``python -m pursuit.fanout_clients URL N SECONDS [--snapshot-every S] [--out FILE]``. The process connects
its N spectators, prints ``{"ready": …}`` once every one is connected and has its snapshot, then
waits for the start of the measured window (unix seconds) on a line of standard input, so that
several such processes measure the same window. It then prints one JSON object: clients held, tick
frames and bytes received in the window, every tick's arrival times (to compare with the other
processes' arrivals), every tick's delay from the ``sent`` time the server put in it, the snapshot
sizes seen (one spectator asks for a fresh one every S seconds) and its own CPU time in the window.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import resource
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
import uvloop
import websockets

RAMP_BATCH = 200  # connections opened before a short pause, so that the server's accept queue keeps up


@dataclass
class Window:
    """What the spectators of this process saw between ``start`` and ``end`` (unix seconds)."""

    start: float = 0.0
    end: float = 0.0
    connected: int = 0
    held: int = 0
    failed: int = 0
    frames: int = 0
    bytes: int = 0
    arrivals: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    sent_delays_s: list[float] = field(default_factory=list)
    tick_bytes: list[int] = field(default_factory=list)  # one spectator's ticks, in order
    snapshots: list[tuple[int, int]] = field(default_factory=list)  # raw and gzipped bytes


async def spectator(url: str, window: Window, probe: bool, snapshot_every_s: float | None) -> None:
    try:
        async with websockets.connect(url, compression=None, open_timeout=120, max_size=2**25) as ws:
            window.connected += 1
            asked = 0.0
            while not window.end or (left := window.end - time.time()) > 0:
                wait_s = left if window.end else 1.0
                if probe and snapshot_every_s and window.end and time.time() >= window.start:
                    if time.time() - asked >= snapshot_every_s:
                        asked = time.time()
                        await ws.send('{"snapshot": true}')
                    wait_s = min(wait_s, snapshot_every_s)
                try:
                    async with asyncio.timeout(wait_s):  # no task per message, unlike wait_for
                        raw = await ws.recv()
                except TimeoutError:
                    continue
                now = time.time()
                if not window.end or now < window.start:
                    continue  # count from the start of the window
                msg = orjson.loads(raw)
                if msg.get("type") == "snapshot" and probe:
                    data = raw.encode() if isinstance(raw, str) else raw
                    window.snapshots.append((len(data), len(gzip.compress(data, 6))))
                if msg.get("type") != "tick":
                    continue  # the shared frames only: a snapshot or a follow is per client
                window.bytes += len(raw)
                window.frames += 1
                window.arrivals[msg["seq"]].append(now)
                if "sent" in msg:
                    window.sent_delays_s.append(now - msg["sent"])
                if probe:
                    window.tick_bytes.append(len(raw))
            window.held += 1
    except Exception:  # a refused or dropped client is what we count, not a crash
        window.failed += 1


async def main(url: str, n: int, seconds: float, snapshot_every_s: float | None) -> dict[str, object]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    window = Window()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(spectator(url, window, i == 0, snapshot_every_s)))
        if i % RAMP_BATCH == RAMP_BATCH - 1:
            await asyncio.sleep(0.05)
    ramp_start = time.time()
    while window.connected + window.failed < n and time.time() - ramp_start < 180:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # let everyone's snapshot drain
    print(orjson.dumps({"ready": window.connected, "failed": window.failed}).decode(), flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    window.start = float(line) if line.strip() else time.time()
    window.end = window.start + seconds
    await asyncio.sleep(max(0.0, window.start - time.time()))
    cpu = time.process_time()
    await asyncio.gather(*tasks)
    cpu_s = time.process_time() - cpu
    return {
        "clients": n, "connected": window.connected, "held_to_the_end": window.held, "failed": window.failed,
        "frames": window.frames, "bytes": window.bytes, "cpu_s": round(cpu_s, 2),
        "arrivals": {str(seq): [round(t - window.start, 5) for t in ts] for seq, ts in window.arrivals.items()},
        "sent_delays_ms": [round(d * 1000, 2) for d in window.sent_delays_s],
        "probe_tick_bytes": window.tick_bytes, "snapshots": window.snapshots,
    }  # fmt: skip


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pursuit.fanout_clients", description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("clients", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--snapshot-every", type=float, help="one spectator asks for a snapshot this often (s)")
    parser.add_argument("--out", help="write the result here instead of to standard output")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    # the load generator runs on uvloop (uvicorn[standard] brings it) so that it takes less of the CPU it shares
    result = uvloop.run(main(args.url, args.clients, args.seconds, args.snapshot_every))
    with open(args.out, "wb") if args.out else sys.stdout.buffer as out:  # a pipe cut lines at 64 KB here
        out.write(orjson.dumps(result) + b"\n")
