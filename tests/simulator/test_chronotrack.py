"""The emulated ChronoTrack decoder against a real CTP01 server written here (the scoring side)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from live.clock import RaceClock
from simulator import chronotrack
from simulator.chronotrack import EmulatedDecoder, time_of_day

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2021, 10, 31, 10, 0, tzinfo=PARIS).timestamp()  # the day the clocks went back
SETTINGS = ["stream-mode=push", "location=single", "time-format=normal", "pushmode-ack=false"]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def ctp_server(*connections: Handler) -> AsyncIterator[int]:
    """A TCP server on a free port; the n-th connection is handled by the n-th handler, awaited at exit."""
    scripts = iter(connections)
    done: list[asyncio.Task] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await next(scripts)(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
        await asyncio.wait_for(asyncio.gather(*done), 5)  # the handlers finish and their assertions count
    finally:
        server.close()
        await server.wait_closed()


async def line(reader: asyncio.StreamReader) -> str:
    raw = await asyncio.wait_for(reader.readline(), 5)
    assert raw.endswith(b"\r\n"), f"CRLF-terminated: {raw!r}"
    return raw[:-2].decode("ascii")


async def answered_greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"RunScore~Version 6.5~CTP01\r\n")
    assert await line(reader) == "PursuitSim~0.1~4"
    assert [await line(reader) for _ in SETTINGS] == SETTINGS


def decoder(times: list[float], speed: float, origin_race: float = T0) -> EmulatedDecoder:
    clock = RaceClock(origin_wall=time.time(), origin_race=origin_race, speed=speed)
    d = EmulatedDecoder(location="finish", tz=PARIS, clock=clock)
    d.add_gun(times[0])
    for i, t in enumerate(times[1:]):
        d.add_read(t, f"CHIP{i % 7:02d}")
    return d


def check_fields(text: str, seq: int, t: float) -> None:
    fields = text.split("~")
    assert len(fields) == 8 and fields[0] == "CT01_33", text
    assert int(fields[1]) == seq and fields[2] == "finish"
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d", fields[4])
    assert fields[4] == datetime.fromtimestamp(t, PARIS).strftime("%H:%M:%S.%f")[:11]
    assert fields[5] == "0" and re.fullmatch(r"[0-9A-F]{6}", fields[6])
    if seq == 1:
        assert (fields[3], fields[4], fields[7]) == ("guntime", "10:00:00.00", "0"), "gun marker, local time"
    else:
        assert fields[3] == f"CHIP{(seq - 2) % 7:02d}" and fields[7] in {"1", "2", "3", "4"}


async def test_streams_in_race_time_then_resends_from_the_asked_sequence():
    times = [T0] + [T0 + 0.37 + k for k in range(80)]  # 81 lines over 80 race seconds: 0.8 s wall
    d = decoder(times, speed=100.0)
    first_seen: list[tuple[str, float]] = []
    resent: list[str] = []

    async def first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answered_greeting(reader, writer)
        writer.write(b"start\r\n")
        assert await line(reader) == "ack~start~finish"
        while len(first_seen) < 20:
            first_seen.append((await line(reader), d.clock.now()))
        # the connection drops here, mid-race

    async def second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answered_greeting(reader, writer)
        writer.write(b"start~finish~12\r\n")
        assert await line(reader) == "ack~start~finish"
        while not resent or int(resent[-1].split("~")[1]) < len(times):
            resent.append(await line(reader))

    async with ctp_server(first, second) as port:
        await asyncio.wait_for(d.run("127.0.0.1", port), 10)

    for seq, (text, seen_at) in enumerate(first_seen, start=1):
        check_fields(text, seq, times[seq - 1])
        assert seen_at >= times[seq - 1] - 0.01, "no line before the race clock reaches its time"
    assert [int(x.split("~")[1]) for x in resent] == list(range(12, len(times) + 1)), "resent exactly from 12"
    for text in resent:
        seq = int(text.split("~")[1])
        check_fields(text, seq, times[seq - 1])
    assert d.connections == 2 and d.sent == len(times)


async def test_answers_pings_and_rejects_a_start_for_another_location():
    d = decoder([T0 + 3600.0, T0 + 3601.0], speed=1.0)  # nothing due for an hour
    stop = asyncio.Event()
    got: list[str] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answered_greeting(reader, writer)
        writer.write(b"ping\r\ngetlocations\r\nstart~concorde\r\n")
        got.extend([await line(reader) for _ in range(3)])
        writer.write(b"start~finish\r\nack~ping\r\nping\r\n")
        got.extend([await line(reader) for _ in range(2)])
        stop.set()
        await reader.read()

    async with ctp_server(script) as port:  # the reads are due in an hour: returning within 10 s is "at once"
        await asyncio.wait_for(d.run("127.0.0.1", port, stop), 10)
    assert got == [
        "ack~ping",
        "ack~getlocations~finish",
        "err~start~unknown location concorde",
        "ack~start~finish",
        "ack~ping",
    ]
    assert d.sent == 0, "stopped at once, nothing sent early"


async def test_greets_a_silent_server_and_reads_its_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(chronotrack, "GREETING_WAIT_S", 0.1)
    times = [T0, T0 + 1.25, T0 + 2.5]
    d = decoder(times, speed=1.0, origin_race=T0 + 10)  # every line already due
    got: list[str] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await line(reader) == "PursuitSim~0.1~CTP01"
        writer.write(b"RunScore~6.5~2\r\nstream-mode=push\r\ntime-format=normal\r\nstart~finish~2\r\n")
        assert await line(reader) == "ack~start~finish"
        got.extend([await line(reader) for _ in range(2)])

    async with ctp_server(silent) as port:
        await asyncio.wait_for(d.run("127.0.0.1", port), 10)
    for seq, text in enumerate(got, start=2):
        check_fields(text, seq, times[seq - 1])


async def test_reconnects_with_backoff_until_the_server_is_up():
    d = decoder([T0], speed=1.0, origin_race=T0 + 10)
    async with ctp_server() as port:
        pass  # a port nobody listens on any more
    stop = asyncio.Event()
    task = asyncio.create_task(d.run("127.0.0.1", port, stop))
    await asyncio.sleep(0.5)
    assert not task.done() and d.connections == 0
    stop.set()
    await asyncio.wait_for(task, 3)


def test_time_of_day_rounds_to_the_hundredth_in_local_time():
    assert time_of_day(T0 + 59.996, PARIS) == "10:01:00.00"
    assert time_of_day(T0 - 0.004, PARIS) == "10:00:00.00"
    assert time_of_day(T0 + 3600 * 5 + 0.5, ZoneInfo("UTC")) == "14:00:00.50"
