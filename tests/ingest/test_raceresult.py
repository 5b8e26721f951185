"""RACE RESULT: the literal records, and the client against a decoder on a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.protocols import raceresult as rr
from ingest.raceresult_client import RaceResultClient
from live.clock import RaceClock
from live.race.race import RaceResultDecoder
from live.store.store import Store
from tests.helpers import eventually


def test_literal_records():
    p = rr.parse_passing(b"1;33;0000-00-00;00:00:02.773;6692;12;-68;09ca52\r\n")
    assert isinstance(p, rr.RRPassing)
    assert (p.number, p.code, p.time.seconds_of_day, p.hits, p.rssi) == (1, "33", pytest.approx(2.773), 12, -68.0)
    p = rr.parse_passing(b"6;100135;0000-00-00;1874.975;0;1;0;;;ba6ebc;0")
    assert isinstance(p, rr.RRPassing) and p.time.seconds_of_day == pytest.approx(1874.975)
    p = rr.parse_passing(b"#P;7;AB12;2026-05-10;10:31:00.250;0;3;-60;x;0;;;;;;;;Finish;3;1;D-1")
    assert (
        isinstance(p, rr.RRPassing) and p.time.local == datetime(2026, 5, 10, 10, 31, 0, 250000) and p.box == "Finish"
    )
    assert rr.parse_count(b"PASSINGS;1\r\n") == 1 and rr.parse_count(b"GETTIME;0000-00-00;00:02:12.942") is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"x;33;0000-00-00;00:00:02.773", "passing number"),
        (b"1;33;2000-01-01;10:00:00.000", "implausible"),
        (b"1;3 3;0000-00-00;00:00:02.773", "odd characters"),
        (b"1;33", "at least 4 fields"),
        (b"1;33;0000-00-00;25:00:00.000", "out of range"),
    ],  # fmt: skip
)
def test_malformed_records(line, reason):
    p = rr.parse_passing(line)
    assert isinstance(p, rr.RRParseError) and reason in p.reason


@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data):
    rr.parse_passing(data)


class FakeDecoder:
    """A decoder speaking the documented commands on a real socket; it can drop a connection."""

    def __init__(self, records: list[str], clock_text=lambda: "00:00:00.000") -> None:
        self.records = records
        self.clock_text = clock_text
        self.requests: list[str] = []
        self.drop_after_fetches: int | None = None
        self.fetches = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while line := (await reader.readline()).decode().strip():
                self.requests.append(line)
                if line.startswith("SETPROTOCOL"):
                    writer.write(b"SETPROTOCOL;2.0\r\n")
                elif line.startswith("SETPUSHPASSINGS"):
                    writer.write(b"SETPUSHPASSINGS;OK\r\n")
                elif line == "GETTIME":  # this decoder's clock runs 2.5 s ahead of the race clock
                    writer.write(f"GETTIME;0000-00-00;{self.clock_text()}\r\n".encode())
                elif line == "PASSINGS":
                    writer.write(f"PASSINGS;{len(self.records)}\r\n".encode())
                elif ":" in line:
                    start, count = map(int, line.split(":"))
                    self.fetches += 1
                    if self.drop_after_fetches is not None and self.fetches > self.drop_after_fetches:
                        writer.close()
                        return
                    chunk = self.records[start - 1 : start - 1 + count]
                    writer.write("".join(f"{r}\r\n" for r in chunk).encode() + b"\r\n")
                await writer.drain()
        writer.close()


def record(n: int, chip: str, hms: str) -> str:
    return f"{n};{chip};0000-00-00;{hms};0;5;-61;x;0;;;;;;;;Box;1;1;D-1"


async def test_pulls_resumes_after_a_drop_and_reads_a_new_file(redis, paris):
    store = Store(redis, paris)
    await store.setup()
    race_day = datetime(2026, 5, 10, 10, 30, tzinfo=paris.timezone).timestamp()
    clock = RaceClock(origin_wall=time.time(), origin_race=race_day, speed=1.0)  # the decoder's too, exactly
    await store.set_clock(clock)
    chips = [p.chips[0] for p in paris.participants[400:420]]

    def decoder_time() -> str:
        local = datetime.fromtimestamp(clock.now() + 2.5, paris.timezone)
        return f"{local:%H:%M:%S}.{local.microsecond // 1000:03d}"

    records = [record(i + 1, c, f"10:2{i // 10}:{i % 10:02d}.500") for i, c in enumerate(chips[:10])]
    decoder = FakeDecoder(records, decoder_time)
    port = await decoder.start()
    client = RaceResultClient(paris, store, RaceResultDecoder("george-v", "127.0.0.1", port), poll_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(client.run(stop))

    async def passings(n):
        return await eventually(lambda: _at_least(store, n))

    got = await passings(10)
    assert {p.tp for p in got} == {3}
    health = (await store.mat_health())["george-v"]
    # GETTIME is read halfway through its round trip: right to half of it (plus the decoder's whole ms)
    within_s = float(health["clock_round_trip_s"]) / 2 + 0.0015
    assert float(health["clock_offset_s"]) == pytest.approx(2.5, abs=within_s)
    # more passings arrive; the connection drops on the next fetch; the client resumes after 10
    decoder.records += [record(11 + i, c, f"10:25:{i:02d}.000") for i, c in enumerate(chips[10:15])]
    decoder.drop_after_fetches, sessions = decoder.fetches, client.sessions
    await eventually(
        lambda: asyncio.sleep(0, decoder.fetches > decoder.drop_after_fetches and client.sessions > sessions)
    )
    decoder.drop_after_fetches = None  # dropped, and the client came back
    await passings(15)
    fetches = [r for r in decoder.requests if ":" in r]
    assert fetches[0] == "1:10" and "11:5" in fetches and client.sessions >= 2
    # the decoder starts a new passing file: the count goes down, the client reads from 1 again
    decoder.records = [record(1 + i, c, f"10:29:{i:02d}.000") for i, c in enumerate(chips[15:18])]
    await passings(18)
    assert [r for r in decoder.requests if ":" in r][-1] == "1:3"
    assert (await store.last_sequences(["raceresult:george-v"])) == {"raceresult:george-v": 3}
    stop.set()
    await task
    decoder.server.close()


async def _at_least(store, n: int):  # type: ignore[no-untyped-def]
    """The store's passings once there are ``n`` (else None, to poll again)."""
    got = await store.passings_after()
    return got if len(got) >= n else None
