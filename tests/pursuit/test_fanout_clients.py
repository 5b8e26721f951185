"""The bench's minimal WebSocket client (``pursuit.bench.fanout_clients``): RFC 6455 framing checked against
the ``websockets`` library's own, a real ``websockets`` server, and the real live feed, where it must
see exactly the frames the ``websockets`` client sees."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import serve
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from pursuit.bench.fanout_clients import (
    PING,
    TEXT,
    FrameReader,
    ProtocolError,
    Spectator,
    Window,
    client_frame,
    connect,
    snapshot_seq,
    tick_fields,
)
from pursuit.redis_server import free_port
from tests.helpers import eventually, pens_started

# ---- framing, pure ----------------------------------------------------------------------------

payloads = st.binary(max_size=70_000) | st.sampled_from([b"", b"x" * 125, b"x" * 126, b"y" * 65_535, b"z" * 65_536])


def server_frames(messages: list[bytes]) -> bytes:
    """``messages`` as the ``websockets`` library frames them from a server (unmasked)."""
    return b"".join(Frame(Opcode.TEXT, m).serialize(mask=False, extensions=[]) for m in messages)


@given(st.lists(payloads, max_size=6), st.lists(st.integers(1, 80_000), max_size=8))
def test_messages_are_read_whole_however_the_stream_is_cut(messages, cuts):
    stream = server_frames(messages)
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    reader = FrameReader()
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        out += reader.feed(stream[a:b])
    assert out == [(TEXT, m) for m in messages]
    assert not reader.buffer


@given(payloads, st.binary(min_size=4, max_size=4))
def test_a_client_frame_is_masked_and_parsed_back_by_websockets(payload, mask):
    frame = client_frame(TEXT, payload, mask)
    assert frame[1] & 0x80, "the mask bit is set"
    reader = StreamReader()
    reader.feed_data(frame)
    parser = Frame.parse(reader.read_exact, mask=True)
    with pytest.raises(StopIteration) as done:
        next(parser)
    parsed = done.value.value
    assert parsed.opcode is Opcode.TEXT and parsed.fin and parsed.data == payload


def test_fragments_are_joined_and_control_frames_pass_between_them():
    stream = (
        Frame(Opcode.TEXT, b"he", fin=False).serialize(mask=False, extensions=[])
        + Frame(Opcode.PING, b"p").serialize(mask=False, extensions=[])
        + Frame(Opcode.CONT, b"ll", fin=False).serialize(mask=False, extensions=[])
        + Frame(Opcode.CONT, b"o").serialize(mask=False, extensions=[])
    )
    assert FrameReader().feed(stream) == [(PING, b"p"), (TEXT, b"hello")]


def test_what_a_server_must_not_send_is_refused():
    masked = Frame(Opcode.TEXT, b"hi").serialize(mask=True, extensions=[])
    for bad, why in [
        (masked, "masked"),
        (b"\xc1\x02hi", "reserved bits"),  # RSV1: a compressed frame, though deflate was not offered
        (b"\x80\x01x", "continuation"),
        (b"\x01\x01a\x01\x01b", "inside a fragmented"),
        (b"\x83\x00", "reserved opcode"),
    ]:
        with pytest.raises(ProtocolError, match=why):
            FrameReader().feed(bad)


def test_a_tick_head_gives_seq_and_sent_and_any_other_message_none():
    tick = orjson.dumps({"type": "tick", "seq": 41, "now": 1.5e9, "sent": 1700000000.125, "changed": {}})
    assert tick_fields(tick) == (41, 1700000000.125)
    reordered = orjson.dumps({"seq": 42, "type": "tick", "sent": 1.25, "now": 1.0})
    assert tick_fields(reordered) == (42, 1.25), "another key order: parsed in full"
    assert tick_fields(orjson.dumps({"type": "tick", "seq": 43, "now": 1.0})) == (43, None)
    for other in ({"type": "snapshot", "seq": 41}, {"type": "follow", "seq": 41}, {"seq": 1, "type": "error"}):
        assert tick_fields(orjson.dumps(other)) is None
    assert snapshot_seq(orjson.dumps({"type": "snapshot", "seq": 41, "race": "r"})) == 41
    assert snapshot_seq(orjson.dumps({"seq": 42, "type": "snapshot"})) == 42, "another key order: parsed in full"
    assert snapshot_seq(tick) is None and snapshot_seq(orjson.dumps({"type": "follow", "seq": 41})) is None


def test_a_snapshot_not_asked_for_counts_as_the_tick_it_replaced():
    window = Window(start=100.0, end=120.0)
    tick = orjson.dumps({"type": "tick", "seq": 7, "now": 1.0, "sent": 109.5, "changed": {}})
    snapshot = orjson.dumps({"type": "snapshot", "seq": 8, "race": "r", "status": [1, 2]})
    follow = orjson.dumps({"type": "follow", "seq": 8, "runners": []})
    for probe in (True, False):
        window.count(tick, 110.0, probe)
        window.count(snapshot, 111.0, probe)  # sent instead of tick 8
        window.count(snapshot, 111.5, probe, answer=True)  # the same state, asked for: per client
        window.count(follow, 111.0, probe)
        window.count(tick, 130.0, probe)  # after the window
    assert dict(window.arrivals) == {7: [110.0, 110.0], 8: [111.0, 111.0]}
    assert window.frames == 4 and window.bytes == 2 * (len(tick) + len(snapshot))
    assert window.sent_delays_s == [0.5, 0.5], "a snapshot carries no send time"
    assert window.tick_bytes == [len(tick), len(snapshot)], "the probe's shared frames"
    assert [raw for raw, _ in window.snapshots] == [len(snapshot)] * 2, "the probe measured both snapshots"


# ---- a real server ----------------------------------------------------------------------------


async def test_the_client_speaks_websocket_to_the_websockets_server():
    """Handshake, every length encoding, a fragmented and a binary message, a ping answered with a
    pong, a masked message from the client (the server refuses unmasked ones), and a close code."""
    big, medium = "b" * 70_000, "m" * 300
    echoed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handler(ws):
        await ws.send("hi")
        await ws.send(medium)
        await ws.send(big)
        await ws.send(["frag", "ment", "ed"])
        await ws.send(b"\x00\x01")
        await asyncio.wait_for(await ws.ping(b"are you there"), 5)  # the pong
        echoed.set_result(await asyncio.wait_for(ws.recv(), 5))
        await ws.send("last")
        await ws.close(4000, "bye")

    port = free_port()
    async with serve(handler, "127.0.0.1", port, compression=None):
        spectator = await connect(f"ws://127.0.0.1:{port}/any/path?x=1", Window(), keep=True)
        spectator.send_text('{"snapshot": true}')
        assert await asyncio.wait_for(echoed, 10) == '{"snapshot": true}'
        await asyncio.wait_for(spectator.closed, 10)
    assert spectator.messages == [b"hi", medium.encode(), big.encode(), b"fragmented", b"\x00\x01", b"last"]
    assert spectator.close_code == 4000 and not spectator.open


async def test_a_refused_upgrade_fails_the_connection():
    async def handler(ws):  # never reached
        await ws.close()

    def refuse(connection, request):
        return connection.respond(403, "no\n")

    port = free_port()
    async with serve(handler, "127.0.0.1", port, process_request=refuse):
        with pytest.raises(ProtocolError, match="refused the upgrade: HTTP/1.1 403"):
            await connect(f"ws://127.0.0.1:{port}/", Window())


def test_only_a_ws_url_is_taken():
    async def make():
        return Spectator("http://127.0.0.1:1/", Window())

    with pytest.raises(ValueError, match="ws://"):
        asyncio.run(make())


# ---- the live feed ----------------------------------------------------------------------------


@pytest.fixture
async def feed_url(redis_server, redis, paris):
    """The web app for the default race, every pen started, serving ``/ws/live`` under real uvicorn."""
    async with pens_started(redis_server, redis, paris) as web:
        yield web.ws_base + "/ws/live"


def _kind(payload: bytes) -> tuple[str, int]:
    message = orjson.loads(payload)
    return message["type"], message["seq"]


async def _value(value):
    return value


async def test_the_client_sees_exactly_the_frames_the_websockets_client_sees(feed_url, paris):
    follow = orjson.dumps({"follow": [p.bib for p in paris.participants[:3]]}).decode()
    async with websockets.connect(feed_url, max_size=2**25) as ws:
        raw = await connect(feed_url, Window(), keep=True)
        mine = raw.messages
        assert mine is not None
        theirs: list[bytes] = []

        async def receive_until(kind: str, seq: int | None = None) -> bytes:
            while True:
                message = await asyncio.wait_for(ws.recv(), 5)
                theirs.append(message.encode() if isinstance(message, str) else message)
                if _kind(theirs[-1])[0] == kind and seq in (None, _kind(theirs[-1])[1]):
                    return theirs[-1]

        async def raw_snapshot(after: int) -> bytes:
            snapshots = await eventually(lambda: _value([m for m in mine[after:] if _kind(m)[0] == "snapshot"]))
            return snapshots[0]

        await ws.send(follow)
        raw.send_text(follow)
        for _ in range(5):  # both ask for a snapshot in the same second (the feed builds one per tick)
            before = len(mine)
            await ws.send('{"snapshot": true}')
            raw.send_text('{"snapshot": true}')
            snapshot = await receive_until("snapshot")
            if await raw_snapshot(before) == snapshot:
                break
        else:
            pytest.fail("never a snapshot of the same tick on both clients")
        start = _kind(snapshot)[1] + 1
        await receive_until("follow", start + 3)
        await eventually(lambda: _value(_kind(mine[-1]) == ("follow", start + 3)), timeout_s=5)
        raw.close()

    def ticks(messages: list[bytes]) -> list[bytes]:
        first = messages.index(next(m for m in messages if _kind(m) == ("tick", start)))
        return messages[first : first + 8]

    assert [_kind(m) for m in ticks(mine)] == [
        (kind, seq) for seq in range(start, start + 4) for kind in ("tick", "follow")
    ]
    assert ticks(mine) == ticks(theirs), "byte for byte"
    for m in mine:
        kind, seq = _kind(m)
        assert tick_fields(m) == ((seq, orjson.loads(m)["sent"]) if kind == "tick" else None)
