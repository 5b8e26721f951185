"""``simulate``: one emulated decoder per mat, each connecting to a CTP01 server, all lines delivered."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

from live.clock import RaceClock
from live.race.race import Race
from simulator.chronotrack import time_of_day
from simulator.run import simulate
from simulator.trajectory import plan_race, true_outcome
from tests.helpers import eventually

SPEED = 3000.0  # the ~47-minute race in about a second


class Collector:
    """A scoring-side stand-in, like our ingestor: greet, ``getlocations``, ``start~<location>``."""

    def __init__(self, clock: RaceClock) -> None:
        self.clock = clock
        self.lines: dict[str, list[tuple[str, float]]] = defaultdict(list)  # location -> (line, race time seen)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"pursuit~0.1~CTP01\r\n")
        for _ in range(5):
            await reader.readline()
        writer.write(b"getlocations\r\n")
        location = (await reader.readline()).decode().strip().split("~")[2]
        writer.write(f"start~{location}\r\n".encode())
        assert (await reader.readline()).decode().strip() == f"ack~start~{location}"
        while raw := await reader.readline():
            self.lines[location].append((raw.decode().strip(), self.clock.now()))
        writer.close()


async def test_simulate_delivers_every_planned_line_per_mat_in_race_time(paris: Race):
    clock = RaceClock(origin_wall=time.time(), origin_race=1635670000.0, speed=SPEED)
    collector = Collector(clock)
    server = await asyncio.start_server(collector.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    first_gun = round(clock.now() + 60.0, 2)
    try:
        report = await asyncio.wait_for(
            simulate(paris, "127.0.0.1", port, clock=clock, first_gun=first_gun, seed=5, runners=40), 15
        )
        # the collector reads the last bytes
        await eventually(
            lambda: asyncio.sleep(0, {m: len(v) for m, v in collector.lines.items()} == report.lines_per_mat)
        )
    finally:
        server.close()
        await server.wait_closed()

    plan = plan_race(paris, first_gun, seed=5, runners=40)
    assert report.outcome == true_outcome(plan) and report.guns == plan.guns
    assert report.reads == len(plan.reads) and report.connections == len(paris.mats)
    assert {m: len(v) for m, v in collector.lines.items()} == report.lines_per_mat
    for mat, lines in collector.lines.items():
        assert [int(text.split("~")[1]) for text, _ in lines] == list(range(1, len(lines) + 1))
        planned = [r for r in plan.reads if r.mat == mat]
        tags = [(text.split("~"), seen) for text, seen in lines if "~guntime~" not in text]
        assert [(f[3], f[4]) for f, _ in tags] == [(r.chip, time_of_day(r.time, paris.timezone)) for r in planned]
        assert all(seen >= r.time for (_, seen), r in zip(tags, planned, strict=True)), "never before its time"
    guns = [text.split("~")[4] for text, _ in collector.lines["start"] if "~guntime~" in text]
    assert guns == [time_of_day(g.time, paris.timezone) for g in plan.guns], "5 pen guns, then the pursuer's"


async def test_simulate_returns_when_stopped(paris: Race):
    clock = RaceClock(origin_wall=time.time(), origin_race=1635670000.0, speed=1.0)
    collector = Collector(clock)
    server = await asyncio.start_server(collector.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(
            simulate(paris, "127.0.0.1", port, clock=clock, first_gun=clock.now() + 0.5, runners=30, stop_event=stop)
        )
        await asyncio.sleep(1.0)
        stop.set()
        report = await asyncio.wait_for(task, 2)
    finally:
        server.close()
        await server.wait_closed()
    assert report.lines_per_mat["start"] >= 1 and report.lines_per_mat["finish"] == 0, "stopped mid-race"
