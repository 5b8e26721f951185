"""The ChronoTrack server over a real TCP socket, into a real Redis."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.store.store import Store
from tests.helpers import journaled
from tests.helpers.chronotrack_client import RACE_DAY, connect_as_pointcam, read_line, wait_for


def local(paris, hms: str) -> float:
    h, m, s = hms.split(":")
    return RACE_DAY.replace(hour=int(h), minute=int(m), second=0, tzinfo=paris.timezone).timestamp() + float(s)


async def test_reads_become_passings_and_a_malformed_line_does_not_break_the_connection(ingest, paris, caplog):
    server, store = ingest
    p = paris.participants[10]
    reader, writer = await connect_as_pointcam(server.port)
    caplog.set_level(logging.WARNING, logger="ingest.chronotrack_server")
    writer.write(
        f"CT01_33~1~marbeuf~{p.chips[0]}~10:05:01.20~0~ABC123~1\r\n"
        "CT01_33~2~marbeuf~this line is broken\r\n"
        f"CT01_33~3~marbeuf~{p.chips[0]}~10:05:01.90~0~ABC123~2\r\n"
        "ping\r\n".encode()
    )
    await writer.drain()
    assert await read_line(reader) == "ack~ping", "the connection survived the malformed line"
    passings = await wait_for(store.passings_after)
    assert [(x.bib, x.tp, x.time) for x in passings] == [
        (p.bib, 1, pytest.approx(local(paris, "10:05:01.20"), abs=0.001))
    ]
    health = (await store.mat_health())["marbeuf"]
    assert health["errors"] == "1" and "needs 8 fields" in health["last_error"]
    assert health["reads"] == "2" and health["connected"] == "1"
    units = "\n".join(unit for units in await journaled(store) for unit in units)
    assert "this line is broken" in units and units.count("CT01_33") == 3, "every line, the bad one too"
    assert any("needs 8 fields" in r.getMessage() and "CT01_33~2~marbeuf" in r.getMessage() for r in caplog.records)
    writer.close()
    await wait_for(lambda: _connected(store, "marbeuf", "0"))


async def _connected(store, mat, value):
    return (await store.mat_health())[mat].get("connected") == value


async def test_racemap_order_client_greets_first(ingest, paris):
    server, store = ingest
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"SimpleClient~0.6.0~CTP01\r\n")
    await writer.drain()
    assert (await read_line(reader)).endswith("~CTP01")  # our greeting, sent on connect
    header = await read_line(reader)
    name, _, count = header.split("~")
    settings = [await read_line(reader) for _ in range(int(count))]
    assert all("=" in s for s in settings)
    assert await read_line(reader) == "getlocations"
    # this reader ignores getlocations: after a short wait the server starts it from the beginning
    assert await read_line(reader) == "start"
    writer.write(b"CT01_33~9~start~guntime~10:00:00.00~0~DF239A~0\r\n")
    await writer.drain()
    guns = await wait_for(store.guns)
    assert guns == {f"pen:{paris.pens[0].id}": pytest.approx(local(paris, "10:00:00"), abs=0.001)}
    writer.close()


async def test_unknown_location_and_oversized_line_are_counted(ingest, paris):
    server, store = ingest
    reader, writer = await connect_as_pointcam(server.port)
    writer.write(b"CT01_33~1~moon~ABC~10:00:00.00~0~A~1\r\n" + b"X" * 5000 + b"\r\nping\r\n")
    await writer.drain()
    assert await read_line(reader) == "ack~ping"
    totals = await store.redis.hgetall(store.keys.ingest)
    assert int(totals[b"errors"]) == 2
    writer.close()


async def test_garbage_flood_keeps_memory_bounded_and_connection_alive(ingest):
    server, store = ingest
    reader, writer = await connect_as_pointcam(server.port)
    writer.write(b"\x00\xff" * 200_000)  # no newline at all for 400 kB
    writer.write(b"\r\nping\r\n")
    await writer.drain()
    assert await read_line(reader) == "ack~ping"
    writer.close()


async def test_a_reconnecting_reader_is_asked_to_resume_after_its_last_line(ingest, paris):
    server, store = ingest
    chips = [p.chips[0] for p in paris.participants[30:36]]
    reader, writer = await connect_as_pointcam(server.port)
    writer.write(
        "".join(f"CT01_33~{i}~marbeuf~{c}~10:06:0{i}.00~0~ABC123~1\r\n" for i, c in enumerate(chips[:3], 1)).encode()
    )
    writer.write(f"CT01_33~6~marbeuf~{chips[5]}~10:06:09.00~0~ABC123~1\r\nping\r\n".encode())  # 4 and 5 skipped
    await writer.drain()
    assert await read_line(reader) == "ack~ping"
    writer.close()
    health = (await store.mat_health())["marbeuf"]
    assert health["seq_gaps"] == "2"
    reader, writer = await connect_as_pointcam(server.port, expect_start="start~marbeuf~7")
    writer.close()


class CountingStore(Store):
    """The real store, counting the batches that took the one-round-trip path."""

    bulk_batches = 0

    async def journal_and_apply(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.bulk_batches += 1
        return await super().journal_and_apply(*args, **kwargs)


async def test_batches_of_tag_reads_end_as_line_by_line_batches_do(redis, paris):
    """Batches of nothing but tag reads go journal + apply + sequences in one round trip; the same
    lines with a ``ping`` in every batch go line by line. Both end in the same state."""
    chips = [p.chips[0] for p in paris.participants[40:60]]
    batches = [
        [f"CT01_33~{3 * b + i + (5 if b >= 2 else 0)}~marbeuf~{chips[(7 * b + i) % 20]}~10:07:{b:02d}.{i}0~0~A~1"
         for i in range(3)]
        for b in range(6)
    ]  # fmt: skip
    batches[3] += [batches[1][0], batches[2][2]]  # resends
    batches[4] += ["CT01_33~99~finish~" + chips[3] + "~10:30:00.00~0~A~1"]  # a second location of the reader

    async def run(ping: bool) -> tuple[object, ...]:
        store = CountingStore(redis, paris)
        await store.reset()
        await store.setup()
        now = RACE_DAY.replace(tzinfo=paris.timezone).timestamp()
        await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=now, speed=1.0))
        server = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
        await server.start()
        reader, writer = await connect_as_pointcam(server.port)
        sent = 0
        for batch in batches:
            writer.write("".join(f"{line}\r\n" for line in batch + (["ping"] if ping else [])).encode())
            await writer.drain()
            sent += len(batch)
            if ping:
                assert await read_line(reader) == "ack~ping"
            await wait_for(lambda n=sent: _reads(store, n))
        writer.close()
        await server.close()
        passings = [(x.bib, x.tp, x.time) for x in await store.passings_after()]
        health = {
            m: {k: v for k, v in h.items() if k != "last_read_wall"} for m, h in (await store.mat_health()).items()
        }
        lines = [unit for units in await journaled(store) for unit in units]
        seqs = await store.last_sequences(["marbeuf", "finish"])
        return passings, health, [ln for ln in lines if ln.startswith("CT01_33")], seqs, store.bulk_batches

    *line_by_line, none = await run(ping=True)
    *bulk, used = await run(ping=False)
    assert none == 0 and used >= 3
    assert bulk == line_by_line
    passings, health, lines, seqs = bulk
    assert lines == [line for batch in batches for line in batch]
    assert seqs == {"marbeuf": 17 + 5, "finish": 99} and health["marbeuf"]["seq_gaps"] == "5"
    marbeuf_chips = {chips[(7 * b + i) % 20] for b in range(6) for i in range(3)}
    assert len({(bib, tp) for bib, tp, _ in passings}) == len(marbeuf_chips) + 1


async def _reads(store, n):
    return sum(int(h.get("reads", 0)) for h in (await store.mat_health()).values()) >= n


@pytest.mark.parametrize("end", ["reader hangs up", "server shuts down"])
async def test_every_batch_sent_to_redis_is_applied_before_the_connection_ends(ingest, paris, end):
    server, store = ingest
    chips = [p.chips[0] for p in paris.participants[1:]]
    reader, writer = await connect_as_pointcam(server.port)
    writer.write(f"CT01_33~1~marbeuf~{chips[0]}~10:08:00.00~0~A~1\r\nping\r\n".encode())  # the mat is announced
    await writer.drain()
    assert await read_line(reader) == "ack~ping"
    lines = [f"CT01_33~{i}~marbeuf~{chips[i % len(chips)]}~10:08:{i % 60:02d}.{i % 100:02d}~0~A~1\r\n"
             for i in range(2, 30_000)]  # fmt: skip
    writer.write("".join(lines).encode())
    await writer.drain()
    if end == "reader hangs up":
        writer.close()
        await wait_for(lambda: _connected(store, "marbeuf", "0"))
        assert (await store.mat_health())["marbeuf"]["reads"] == str(len(lines) + 1)
    else:
        await asyncio.sleep(0.05)
        await server.close()
        writer.close()
    lines = sum(unit.count("CT01_33") for units in await journaled(store) for unit in units)
    reads = int((await store.mat_health())["marbeuf"]["reads"])
    assert lines == reads, "each read journaled is applied"
    assert await store.last_sequences(["marbeuf"]) == {"marbeuf": reads}


async def test_closing_the_server_counts_its_mats_down_even_while_redis_is_slow(ingest, redis, paris):
    """An ingestor shutting down must leave no mat shown connected: close() waits for the count to go
    down, even when Redis takes longer to answer than a connection takes to be cancelled."""
    server, store = ingest
    reader, writer = await connect_as_pointcam(server.port, location="marbeuf")
    writer.write(f"CT01_33~1~marbeuf~{paris.participants[5].chips[0]}~10:05:00.00~0~ABC123~1\r\nping\r\n".encode())
    await writer.drain()
    assert await read_line(reader) == "ack~ping"
    assert (await store.mat_health())["marbeuf"]["connected"] == "1"
    await redis.execute_command("CLIENT", "PAUSE", 1500, "WRITE")  # writes wait 1.5 s, reads go on
    await server.close()
    assert (await store.mat_health())["marbeuf"]["connected"] == "0"
    writer.close()
    await writer.wait_closed()
