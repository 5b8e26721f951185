"""``pursuit serve`` as a real process on 127.0.0.1, probed from outside as an attacker would: the
process, what to send to its reader ports, and what to read back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from live.race.race import Race
from live.race.race_file import load_race
from live.store.store import Store
from pursuit.redis_server import RedisServer, free_port
from tests.helpers.paths import PARIS
from tests.helpers.polling import eventually


@dataclass
class Served:
    """A running ``pursuit serve``: its ports, its race, a store on its Redis and an HTTP client."""

    race: Race
    store: Store
    http: httpx.AsyncClient
    ct_port: int
    mylaps_port: int
    web_port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def race_dir(tmp_path: Path, extra_toml: str = "", prepare: Callable[[Path], None] | None = None) -> Path:
    """A copy of the Paris race with ``extra_toml`` appended to its race.toml, then ``prepare(dir)``."""
    directory = tmp_path / "race"
    shutil.copytree(PARIS, directory)
    if prepare is not None:
        prepare(directory)
    if extra_toml:
        with (directory / "race.toml").open("a") as f:
            f.write("\n" + extra_toml + "\n")
    return directory


@contextlib.asynccontextmanager
async def serve(
    redis_server: RedisServer,
    redis: aioredis.Redis,
    tmp_path: Path,
    extra_toml: str = "",
    env: dict[str, str] | None = None,
    prepare: Callable[[Path], None] | None = None,
) -> AsyncIterator[Served]:
    """``pursuit serve`` on free ports of 127.0.0.1, yielded once its API answers."""
    directory = race_dir(tmp_path, extra_toml, prepare)
    race = load_race(directory)
    ct_port, mylaps_port, web_port = free_port(), free_port(), free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 (returns at once; the process outlives this block)
            [sys.executable, "-m", "pursuit.cli", "serve", "--race", str(directory), "--host", "127.0.0.1",
             "--port", str(web_port), "--ingest-port", str(ct_port), "--mylaps-port", str(mylaps_port)],
            env={**os.environ, "REDIS_URL": redis_server.url, "PURSUIT_ADMIN_TOKEN": "admin", **(env or {})},
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web_port}", timeout=10) as http:

            async def up() -> bool:
                assert process.poll() is None, log_path.read_text()[-3000:]
                try:
                    return (await http.get("/api/state")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(up, timeout_s=30)
            yield Served(race, Store(redis, race), http, ct_port, mylaps_port, web_port, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def send_lines(port: int, data: bytes, expect: Callable[[bytes], bool] | None = None) -> bytes:
    """Connect to a reader port of 127.0.0.1, send ``data``, read until ``expect(answer)`` (without
    ``expect``: end our side and read until the server has taken everything and closes); returns
    what came back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = b""
    try:
        writer.write(data)
        await writer.drain()
        if expect is None:
            writer.write_eof()
        while expect is None or not expect(got):
            chunk = await asyncio.wait_for(reader.read(65536), 30)
            if not chunk:
                break
            got += chunk
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return got


def hms(race, t: float) -> str:
    return datetime.fromtimestamp(t, race.timezone).strftime("%H:%M:%S.%f")[:-3]


async def errors_at(served: Served, mat: str) -> int:
    return int((await served.store.mat_health())[mat].get("errors", 0))


def readers_table(*lines: str):  # type: ignore[no-untyped-def]
    """A ``prepare`` hook adding ``lines`` to race.toml's ``[readers]`` table."""

    def prepare(directory: Path) -> None:
        path = directory / "race.toml"
        path.write_text(path.read_text().replace("[readers]\n", "[readers]\n" + "".join(f"{x}\n" for x in lines), 1))

    return prepare
