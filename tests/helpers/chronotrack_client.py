"""A ChronoTrack reader's side of the conversation, for tests: greet, announce a location, wait."""

from __future__ import annotations

import asyncio
from datetime import datetime

from tests.helpers.polling import eventually

RACE_DAY = datetime(2026, 5, 10, 10, 30)


async def read_line(reader: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(reader.readline(), 5)).decode().rstrip("\r\n")


async def connect_as_pointcam(
    port: int, location: str = "marbeuf", expect_start: str = "start~marbeuf"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The PointCam order: the server greets first, the reader answers with its settings."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await read_line(reader)).endswith("~CTP01")
    writer.write(
        b"PointCam~1.0.0~4\r\nstream-mode=push\r\nlocation=single\r\ntime-format=normal\r\npushmode-ack=true\r\n"
    )
    await writer.drain()
    assert await read_line(reader) == "getlocations"
    writer.write(f"ack~getlocations~{location}\r\n".encode())
    await writer.drain()
    assert await read_line(reader) == expect_start
    return reader, writer


async def wait_for(predicate, timeout_s: float = 5.0):  # type: ignore[no-untyped-def]
    """``eventually``, polling every 50 ms for ``timeout_s``."""
    return await eventually(predicate, timeout_s, every_s=0.05)
