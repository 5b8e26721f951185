"""Baseline of ``pursuit bench fanout``: the least a fan-out server can do on this machine.

Usage: ``python -m pursuit.bench.fanout_bare PORT BYTES``. A bare WebSocket server on uvloop: it upgrades
every connection (``Sec-WebSocket-Accept`` as RFC 6455 §4.2.2), sends it a small first message, and
once a second writes one ready text frame of ``BYTES`` (a tick's head — type, seq, now, sent — padded)
to every connection's transport in one pass: no app, no engine, no JSON encoding, no per-client
checks. ``GET /metrics`` gives the same ``pursuit_feed_write_seconds`` histogram as the web process.
It prints ``listening`` once it accepts connections and runs until interrupted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import signal
import sys
import time

import uvloop
from websockets.frames import Frame, Opcode

from pursuit.bench.fanout_clients import WS_GUID
from pursuit.metrics import CONTENT_TYPE_LATEST, render_fanout_metrics
from web.frames import FanoutTimes

MAX_REQUEST_BYTES = 16 * 1024


class Bare:
    """The connections and the tick loop."""

    def __init__(self, tick_bytes: int) -> None:
        self.tick_bytes = tick_bytes
        self.connections: set[Connection] = set()
        self.times = FanoutTimes()
        self.seq = 0

    def frame(self, kind: str) -> bytes:
        head = b'{"type":"%b","seq":%d,"now":%.3f,"sent":%.3f,"pad":"' % (
            kind.encode(),
            self.seq,
            time.time(),
            time.time(),
        )
        payload = head + b"x" * max(0, self.tick_bytes - len(head) - 2) + b'"}'
        return Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])

    async def ticks(self) -> None:
        while True:
            await asyncio.sleep(1.0 - time.time() % 1.0)
            started = time.perf_counter()
            self.seq += 1
            frame = self.frame("tick")
            built = time.perf_counter()
            for connection in list(self.connections):
                connection.transport.write(frame)
            self.times.add(built - started, time.perf_counter() - built)


class Connection(asyncio.Protocol):
    """One client: an HTTP request (an upgrade or ``GET /metrics``), then frames we ignore but a close."""

    def __init__(self, bare: Bare) -> None:
        self.bare = bare
        self.request: bytearray | None = bytearray()
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        if self.request is None:
            if data[:1] == b"\x88":  # the client's close frame: the end (its echo is not awaited)
                self.transport.close()
            return
        self.request += data
        end = self.request.find(b"\r\n\r\n")
        if end < 0:
            if len(self.request) > MAX_REQUEST_BYTES:
                self.transport.close()
            return
        line, *lines = bytes(self.request[:end]).decode("latin-1").split("\r\n")
        self.request = None
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        if line.startswith("GET /metrics "):
            body = render_fanout_metrics(self.bare.times)
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: %b\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b"
                % (CONTENT_TYPE_LATEST.encode(), len(body), body)
            )
            self.transport.close()
            return
        key = headers.get("sec-websocket-key", "").encode()
        if headers.get("upgrade", "").lower() != "websocket" or not key:
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.transport.close()
            return
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: %b\r\n\r\n%b" % (accept, self.bare.frame("snapshot"))
        )
        self.bare.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.bare.connections.discard(self)


async def main(port: int, tick_bytes: int) -> None:
    bare = Bare(tick_bytes)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(bare), "127.0.0.1", port, backlog=4096)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    ticks = asyncio.create_task(bare.ticks())
    print("listening", flush=True)
    await stop.wait()
    ticks.cancel()
    server.close()
    for connection in list(bare.connections):
        connection.transport.abort()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
