"""``pursuit bench fuzz``: hostile lines and messages at every reader door of a real ``pursuit serve``.

A seeded generator mutates valid ChronoTrack lines, MYLAPS messages, RACE RESULT passings (served by
a fake decoder the ingestor pulls from) and ``/ingest/ws`` JSON items: numbers too big, negative,
400 digits, NaN, dates in 9999, made-up mats and chips, guns from anywhere, bytes that are no text.
Good reads (one per runner and mat, times near now) go in among them. At the end: the process is
up, no traceback in its log, every good read is a crossing in Redis, and Redis's memory is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import websockets

from live.race.race import Race
from live.race.race_file import load_race
from live.store.store import Store
from pursuit.redis_server import RedisServer, free_port

NUMBERS = [
    "0",
    "-1",
    "-5000",
    "9" * 400,
    "1e400",
    "nan",
    "inf",
    "-0",
    "99999999999999999999",
    "1.5e308",
    "",
    "1000000000000000",
    "999999999999999999",
    "18446744073709551616",
    "0x1F",
    " 7",
    "٣",
]
TIMES = [
    "29:71:99.99",
    "24:00:00.00",
    "-1:00:00",
    "9999-12-31T23:59:59.99",
    "2030-05-10T10:00:00.00",
    "1e400",
    "nan",
    "4102444800.5",
    "99999999999",
    "00:00:00.00",
    "12:00",
    "",
    "23:59:60.00",
]
JSON_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    1e308,
    -1e308,
    2**70,
    "",
    "x" * 300,
    [],
    {},
    [[[]]],
    {"a": {"b": []}},
    "2021-10-31",
    4102444801,
    978307199,
    -5.5,
    "nan",
]
BATCH = 400  # lines or records written at once
JSON_ITEMS = 100  # items per /ingest/ws message
JSON_MAX_BYTES = 60_000  # under the web server's 64 KiB WebSocket limit


@dataclass
class Doors:
    """Where the hostile input goes, and the good reads sent with it: ``(chip, mat)``."""

    race: Race
    mats: dict[str, str]  # protocol -> mat
    good: list[tuple[str, str]] = field(default_factory=list)


def _hms(race: Race, t: float) -> str:
    return datetime.fromtimestamp(t, race.timezone).strftime("%H:%M:%S.%f")[:-4]


def _noise(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("~@$;|=,:.-09AZaz \t\x00\x7f\xe9\u2603") for _ in range(n))


class Hostile:
    """Seeded hostile input per protocol, with a good read every ``good_every`` lines."""

    def __init__(self, race: Race, seed: int, good_every: int = 100) -> None:
        self.race, self.rng, self.good_every = race, random.Random(seed), good_every
        self.chips = [p.chips[0] for p in race.runners]
        self.locations = [m.id for m in race.mats] + ["moon", "x" * 80, "", "START", "start "]
        self.next_chip: dict[str, int] = {}
        self.good: list[tuple[str, str]] = []
        self.n = 0

    def _good_chip(self, mat: str) -> str | None:
        """A chip not yet read at ``mat`` by the good reads (None when the field is used up)."""
        i = self.next_chip.get(mat, 0)
        if i >= len(self.chips):
            return None
        self.next_chip[mat] = i + 1
        self.good.append((self.chips[i], mat))
        return self.chips[i]

    def _due_good(self, mat: str) -> str | None:
        self.n += 1
        return self._good_chip(mat) if self.n % self.good_every == 0 else None

    def pick(self, pool: list[Any]) -> Any:
        return self.rng.choice(pool)

    def chronotrack(self, mat: str) -> bytes:
        now = time.time()
        if chip := self._due_good(mat):
            return f"CT01_33~{self.rng.randint(1, 99_999)}~{mat}~{chip}~{_hms(self.race, now)}~0~F~1".encode()
        r = self.rng.random()
        if r < 0.15:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 200))).replace(b"\n", b"")
        if r < 0.25:
            commands: list[bytes] = [
                b"getlocations",
                b"ack~getlocations~" + b"~".join(b"l%d" % i for i in range(300)),
                b"authorize~guess",
                b"ping",
                b"err~start~x",
                b"R~1~CTP01",
                b"R~1~99",
                b"start~start~999999999999999999",
                b"k=v",
                b"=x",
                b"x" * 2000,
            ]
            return self.rng.choice(commands)
        seq = self.pick([*NUMBERS, str(self.rng.randint(0, 10**6))])
        tag = self.pick(["guntime", "newlocation", self.pick(self.chips), "ZZZZZZ", "bad chip", "\u2603", "A" * 70])
        t = self.pick([*TIMES, _hms(self.race, now), _noise(self.rng, 12)])
        fields = ["CT01_33", seq, self.pick(self.locations), tag, t, "0", "R", "1"]
        if self.rng.random() < 0.2:
            fields = fields[: self.rng.randrange(8)] + fields[8:] if self.rng.random() < 0.5 else [*fields, "extra"]
        return "~".join(fields).encode("utf-8", "replace")

    def mylaps(self, mat: str, number: int) -> bytes:
        now = time.time()
        if chip := self._due_good(mat):
            return f"{mat}@Passing@c={chip}|ut={int(now * 1000)}@{number}@$".encode()
        r = self.rng.random()
        if r < 0.1:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 120))).replace(b"$", b"") + b"@$"
        if r < 0.2:
            return self.rng.choice([b"x@Pong@$", b"x@Ping@$", b"@@$", b"a@$", b"x" * 70_000 + b"@$"])
        source = self.pick(self.locations)
        if r < 0.3:
            t = self.pick([*TIMES, _hms(self.race, now)])
            return f"{source}@Marker@t={t}|mt=Gunshot|n=G@{self.pick(NUMBERS)}@$".encode("utf-8", "replace")
        records = []
        for _ in range(self.rng.randrange(1, 6)):
            parts = [f"c={self.pick([*self.chips[:50], 'bad chip', '', 'Z' * 80])}"]
            if self.rng.random() < 0.6:
                parts.append(f"ut={self.pick([*NUMBERS, str(int(now * 1000))])}")
            else:
                parts.append(f"t={self.pick([*TIMES, _hms(self.race, now)])}")
                parts.append(f"d={self.pick(['991231', '211031', '000000', 'abc', '79123'])}")
            if self.rng.random() < 0.2:
                parts.append(self.pick(["amd=x", "=", "|", "k"]))
            records.append("|".join(parts))
        function = self.pick(["Passing", "Passing", "Store", "Passing"])
        return f"{source}@{function}@{'@'.join(records)}@{self.pick([str(number), *NUMBERS])}@$".encode(
            "utf-8", "replace"
        )

    def raceresult(self, mat: str, number: int) -> bytes:
        now = time.time()
        if chip := self._due_good(mat):
            return f"{number};{chip};0000-00-00;{_hms(self.race, now)}".encode()
        date = self.pick(["0000-00-00", "9999-12-31", "2021-02-30", "0000-00-01", "2000-01-01", "abcd", "2079-12-31"])
        t = self.pick([*TIMES, "600000", "1874.975", "-5", "1e400", "nan", _hms(self.race, now)])
        code = self.pick([*self.chips[:50], "@@?!", "", "Z" * 80])
        line = f"{number};{code};{date};{t};1;{self.pick(NUMBERS)};{self.pick(NUMBERS)}"
        if self.rng.random() < 0.1:
            line = _noise(self.rng, self.rng.randrange(1, 80))
        return line.encode("utf-8", "replace")

    def json_item(self, mat: str) -> Any:
        now = time.time()
        if chip := self._due_good(mat):
            return {"reader": mat, "chip": chip, "t": now}
        r = self.rng.random()
        if r < 0.3:
            return {
                "reader": self.pick([mat, "moon", 5, None]),
                "chip": self.pick([*self.chips[:50], 7, "bad chip"]),
                "t": self.pick([*JSON_VALUES, now]),
            }
        if r < 0.5:
            return {"gps": {"lat": self.pick(JSON_VALUES), "lon": self.pick(JSON_VALUES), "t": self.pick(JSON_VALUES)}}
        return self.pick(JSON_VALUES)


class FakeDecoder:
    """A RACE RESULT decoder whose passing file is ``lines`` (numbered 1..n)."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ValueError):
            while line := (await reader.readline()).decode(errors="replace").strip():
                if line.startswith(("SETPROTOCOL", "SETPUSHPASSINGS")):
                    writer.write(f"{line};OK\r\n".encode())
                elif line == "GETTIME":
                    writer.write(b"GETTIME;9999-12-31;600000\r\n")  # a hostile clock too
                elif line == "PASSINGS":
                    writer.write(f"PASSINGS;{len(self.lines)}\r\n".encode())
                elif ":" in line:
                    first, count = map(int, line.split(":"))
                    writer.write(b"".join(x + b"\r\n" for x in self.lines[first - 1 : first - 1 + count]) + b"\r\n")
                await writer.drain()
        writer.close()


async def _stream_tcp(port: int, make: Callable[[int], bytes], count: int, sep: bytes) -> int:
    """Write ``count`` units to a reader port, reconnecting when the server closes; returns reconnects."""
    reconnects, sent = 0, 0
    while sent < count:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        drain = asyncio.create_task(reader.read(-1))  # the server's answers, read and dropped
        try:
            while sent < count:
                n = min(BATCH, count - sent)
                writer.write(b"".join(make(sent + i) + sep for i in range(n)))
                await writer.drain()
                sent += n
            writer.write_eof()
            await asyncio.wait_for(drain, 600)  # the server has taken everything when it closes
        except (ConnectionError, TimeoutError):
            reconnects += 1
        finally:
            drain.cancel()
            writer.close()
    return reconnects


async def _stream_json(url: str, make: Callable[[], Any], count: int, rng: random.Random) -> int:
    """Send ``count`` items in JSON messages (and, now and then, a message that is no JSON); returns reconnects."""
    closed, sent = 0, 0
    while sent < count:
        try:
            async with websockets.connect(url, max_size=2**20) as ws:
                while sent < count:
                    n = min(JSON_ITEMS, count - sent)
                    messages: list[str | bytes] = []
                    parts: list[str] = []
                    for item in (make() for _ in range(n)):
                        part = json.dumps(item)  # big integers too: not orjson
                        if parts and sum(map(len, parts)) + len(parts) + len(part) > JSON_MAX_BYTES:
                            messages.append("[" + ",".join(parts) + "]")
                            parts = []
                        parts.append(part)
                    messages.append("[" + ",".join(parts) + "]")
                    if rng.random() < 0.1:
                        messages.append(rng.choice([b"NaN", b"[1,", b"\xff\xfe", b'{"reader": Infinity}', b"[" * 5000]))
                    for message in messages:
                        await ws.send(message)
                        await ws.recv()
                        await asyncio.sleep(0.025)  # under the 50 messages/s a reader may send
                    sent += n
        except websockets.ConnectionClosed:
            closed += 1
    return closed


async def _fuzz(race: Race, directory: Path, redis_url: str, lines: int, seed: int, log_path: Path) -> dict[str, Any]:
    doors = {"chronotrack": "start", "mylaps": "concorde", "raceresult": "george-v", "json": "finish"}
    share = {"chronotrack": 0.4, "mylaps": 0.25, "raceresult": 0.15, "json": 0.2}
    counts = {p: int(lines * s) for p, s in share.items()}
    gen = Hostile(race, seed)
    decoder = FakeDecoder()
    decoder.lines = [gen.raceresult(doors["raceresult"], i + 1) for i in range(counts["raceresult"])]
    rr_port = free_port()
    rr_server = await asyncio.start_server(decoder.serve, "127.0.0.1", rr_port)
    with (directory / "race.toml").open("a") as f:
        f.write(f'\n[[readers.raceresult]]\nmat = "{doors["raceresult"]}"\nhost = "127.0.0.1"\nport = {rr_port}\n')
    ct_port, ml_port, web_port = free_port(), free_port(), free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "PURSUIT_READER_TOKENS": "finish=fuzz-token"}
    redis = aioredis.Redis.from_url(redis_url)
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 (returns at once; the server outlives this block)
            [
                sys.executable,
                "-m",
                "pursuit.cli",
                "serve",
                "--race",
                str(directory),
                "--host",
                "127.0.0.1",
                "--port",
                str(web_port),
                "--ingest-port",
                str(ct_port),
                "--mylaps-port",
                str(ml_port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        store = Store(redis, race)
        for _ in range(300):
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection("127.0.0.1", web_port)
                w.close()
                break
            await asyncio.sleep(0.1)
        memory_before = int((await redis.info("memory"))["used_memory"])
        started = time.monotonic()
        reconnects = await asyncio.gather(
            _stream_tcp(ct_port, lambda i: gen.chronotrack(doors["chronotrack"]), counts["chronotrack"], b"\r\n"),
            _stream_tcp(ml_port, lambda i: gen.mylaps(doors["mylaps"], i + 1), counts["mylaps"], b"\r\n"),
            _stream_json(
                f"ws://127.0.0.1:{web_port}/ingest/ws?reader=finish&token=fuzz-token",
                lambda: gen.json_item(doors["json"]),
                counts["json"],
                random.Random(seed),
            ),
        )
        good = set(gen.good)
        bib_of = race.chip_map()
        wanted = {f"{bib_of[c]}|{m}".encode() for c, m in good}
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            have = set(await redis.hkeys(store.keys.crossings))
            if wanted <= have:
                break
            await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        have = set(await redis.hkeys(store.keys.crossings))
        memory = await redis.info("memory")
        log_text = await asyncio.to_thread(log_path.read_text, errors="replace")
        return {
            "hostile_units": dict(counts),
            "good_reads": len(good),
            "good_reads_applied": len(wanted & have),
            "process_up": process.poll() is None,
            "tracebacks_in_log": log_text.count("Traceback"),
            "first_traceback": log_text[log_text.find("Traceback") - 300 :][:3000] if "Traceback" in log_text else "",
            "client_reconnects": dict(zip(["chronotrack", "mylaps", "json"], reconnects, strict=True)),
            "seconds": round(elapsed, 1),
            "redis_used_memory_mb": round(int(memory["used_memory"]) / 2**20, 1),
            "redis_used_memory_before_mb": round(memory_before / 2**20, 1),
            "journal_entries": await redis.xlen(store.keys.journal),
            "reader_errors": await store.reader_errors(),
        }
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:  # SIGTERM not heeded in 10 s (a loaded machine): killed, and reaped
            process.kill()
            process.wait()
        rr_server.close()
        await redis.aclose()


def run_fuzz(lines: int, seed: int, race_dir: Path) -> dict[str, Any]:
    """Fuzz a real ``pursuit serve`` (on a private Redis, in a temporary copy of ``race_dir``)."""
    with tempfile.TemporaryDirectory(prefix="pursuit-fuzz-") as tmp:
        directory = Path(tmp) / "race"
        shutil.copytree(race_dir, directory)
        with RedisServer(Path(tmp) / "redis", appendonly=False) as redis_server:
            race = load_race(directory)
            return asyncio.run(_fuzz(race, directory, redis_server.url, lines, seed, Path(tmp) / "serve.log"))
