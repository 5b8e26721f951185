"""MYLAPS T&S exporter: the literal example messages, and the server over a real socket."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.mylaps_server import MyLapsServer
from ingest.protocols import mylaps as ml
from live.clock import RaceClock
from live.store.store import Store

PASSING = (
    b"10KM@Passing@t=13:11:30.904|c=0000041|ct=UH|d=120606|l=13|dv=4|re=0|an=00001111|g=0|b=41|n=41"
    b"@t=13:12:21.830|c=0000039|ct=UH|d=120606|l=30|dv=4|re=0|an=00001101|g=0|b=39|n=39@1016@$"
)


def test_literal_v2_passing_message():
    msg = ml.parse_message(PASSING)
    assert isinstance(msg, ml.Passings) and msg.source == "10KM" and msg.number == "1016" and not msg.v1
    assert [r.chip for r in msg.records] == ["0000041", "0000039"]
    assert msg.records[0].time.local == datetime(2012, 6, 6, 13, 11, 30, 904000)
    assert msg.records[1].fields["b"] == "39"


def test_literal_v1_store_message_and_the_short_manual_record():
    msg = ml.parse_message(
        b"Start@Store@LZ6302115:37:40.704 5 0F  1000125030862@NV4654515:37:40.708 5 0F  100002503086F@1@$"
    )
    assert isinstance(msg, ml.Passings) and msg.v1 and [r.chip for r in msg.records] == ["LZ63021", "NV46545"]
    assert msg.records[0].time.local == datetime(2025, 3, 8, 15, 37, 40, 704000)
    short = ml.parse_message(
        b"Finish@Store@0RK9T6N 13:50:23.30 9323 1000009080387@2@$"
    )  # one char short: parse defensively
    assert isinstance(short, ml.Passings) and short.records[0].chip == "0RK9T6N" and not short.errors


def test_handshake_marker_and_acks():
    assert ml.parse_message(b"Finish@Pong@$") == ml.Message("Finish", "Pong", ())
    marker = ml.parse_message(b"Finish@Marker@t=11:03:40.347|mt=Gunshot|n=Gunshot 1@4@$")
    assert isinstance(marker, ml.Marker) and marker.kind == "Gunshot" and marker.number == "4"
    assert ml.ack("Test", "AckPassing", "1016") == b"Test@AckPassing@1016@$"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"10KM@Passing@t=13:11:30.904|c=0000041@$", "message number"),
        (b"Finish@Pong", "must end with '@$'"),
        (b"@Pong@$", "source and a function"),
        (b"10KM@Passing@t=13:11:30.904|c=0000041|d=000101@7@$", None),
        (b"10KM@Passing@t=99:11:30.904|c=0000041@7@$", None),
    ],
)
def test_malformed_messages_and_records(raw, reason):
    msg = ml.parse_message(raw)
    if reason:
        assert isinstance(msg, ml.ParseError) and reason in msg.reason
    else:
        assert isinstance(msg, ml.Passings) and msg.records == [] and len(msg.errors) == 1


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data):
    for raw in ml.split_messages(data)[0]:
        ml.parse_message(raw)


@pytest.fixture
async def exporter_server(redis, paris):
    store = Store(redis, paris)
    await store.setup()
    race_day = datetime(2026, 5, 10, 10, 30, tzinfo=paris.timezone).timestamp()
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=race_day, speed=1.0))
    server = MyLapsServer(paris, store, host="127.0.0.1", port=0)
    await server.start()
    yield server, store
    await server.close()


def passing_message(mat: str, number: int, records: list[tuple[str, str]]) -> bytes:
    body = "@".join(f"t={t}|c={chip}|ct=UH|d=260510|dv=4|re=0" for chip, t in records)
    return f"{mat}@Passing@{body}@{number}@$".encode()


async def read_acks(reader: asyncio.StreamReader, n: int) -> list[bytes]:
    acks = []
    while len(acks) < n:
        acks.append(await asyncio.wait_for(reader.readuntil(b"$"), 5))
    return acks


async def passings_of(store) -> dict:
    return {(p.bib, p.tp): p.time for p in await store.passings_after()}


async def test_resent_and_out_of_order_messages_end_like_a_clean_delivery(exporter_server, paris, redis):
    server, store = exporter_server
    chips = [p.chips[0] for p in paris.participants[100:160]]
    records = [(c, f"10:{20 + i // 30:02d}:{i % 30 * 2:02d}.{i:03d}") for i, c in enumerate(chips)]
    messages = [passing_message("concorde", n + 1, records[n * 10 : n * 10 + 10]) for n in range(6)]

    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"concorde@Pong@$")
    await writer.drain()
    assert (await read_acks(reader, 1))[0] == b"pursuit@AckPong@Version2.1@$"
    shuffled = messages + random.Random(3).sample(messages, 4)  # resends of unacked messages
    random.Random(5).shuffle(shuffled)
    writer.write(b"".join(shuffled) + b"concorde@Ping@$")
    await writer.drain()
    acks = await read_acks(reader, len(shuffled) + 1)
    assert sorted({a for a in acks if b"AckPassing" in a}) == sorted(
        {f"pursuit@AckPassing@{n + 1}@$".encode() for n in range(6)}
    )
    assert acks[-1] == b"pursuit@AckPing@$"
    writer.close()
    got = await passings_of(store)

    clock = await store.clock()
    await store.reset()
    await store.setup()
    await store.set_clock(clock)  # else, once the server re-reads it, times of day fall on today
    clean = Store(redis, paris)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"".join(messages))
    await writer.drain()
    await read_acks(reader, len(messages))
    writer.close()
    assert got == await passings_of(clean) and len(got) == 60


async def test_bad_record_is_counted_and_the_good_ones_acked(exporter_server, paris):
    server, store = exporter_server
    chip = paris.participants[7].chips[0]
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"finish@Passing@t=10:40:00.100|c={chip}|d=260510@t=10:40:01|c=bad chip@77@$".encode())
    writer.write(b"moon@Passing@t=10:40:00.100|c=ABC@78@$start@Marker@t=10:00:00.000|mt=Gunshot|n=G1@5@$")
    await writer.drain()
    acks = await read_acks(reader, 2)
    assert acks == [b"pursuit@AckPassing@77@$", b"pursuit@AckMarker@5@$"], "an unknown mat is not acknowledged"
    writer.close()
    assert len(await store.passings_after()) == 1
    assert (await store.mat_health())["finish"]["errors"] == "1"
    assert int(await store.redis.hget(store.keys.ingest, "errors")) == 1
    assert (await store.guns())["pen:1"] == datetime(2026, 5, 10, 10, 0, tzinfo=paris.timezone).timestamp()
