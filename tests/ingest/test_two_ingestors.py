"""More than one ingestor at once on one Redis (SPEC §4): a reader failing over from one to the other
resumes where the first left off, and two ingestors taking the mats of the same runners concurrently
end in the passings one ingestor makes."""

from __future__ import annotations

import asyncio
import random

from ingest.chronotrack_server import ChronoTrackServer
from live.store.store import Store
from tests.helpers.chronotrack_client import connect_as_pointcam, read_line, wait_for


def lines(mat: str, chips: list[str], first_seq: int, minute: int) -> list[str]:
    """One tag read per chip, a hundredth of a second apart, numbered from ``first_seq``."""
    return [
        f"CT01_33~{first_seq + i}~{mat}~{chip}~10:{minute:02d}:{i // 100:02d}.{i % 100:02d}~0~BOX{mat}~1\r\n"
        for i, chip in enumerate(chips)
    ]


async def send(port: int, mat: str, batch: list[str], expect_start: str) -> None:
    reader, writer = await connect_as_pointcam(port, location=mat, expect_start=expect_start)
    for i in range(0, len(batch), 25):  # in pieces, as a decoder streams
        writer.write("".join(batch[i : i + 25]).encode())
        await writer.drain()
    writer.write(b"ping\r\n")
    await writer.drain()
    assert await read_line(reader) == "ack~ping"
    writer.close()
    await writer.wait_closed()


async def passings(store: Store) -> dict[tuple[str, int], float]:
    return {(p.bib, p.tp): p.time for p in await store.passings_after()}


async def test_a_reader_failing_over_to_a_second_ingestor_resumes_after_the_first(ingest, paris):
    first, store = ingest
    second = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
    await second.start()
    try:
        chips = [p.chips[0] for p in paris.participants[1:101]]
        batch = lines("marbeuf", chips, 1, 6)
        await send(first.port, "marbeuf", batch[:60], "start~marbeuf")
        await first.close()  # the first ingest host goes down
        await send(second.port, "marbeuf", batch[60:], "start~marbeuf~61")  # asked to resume after line 60
        got = await wait_for(lambda: _count(store, 100))
        assert got == 100
        health = (await store.mat_health())["marbeuf"]
        assert int(health["reads"]) == 100 and int(health.get("seq_gaps", 0)) == 0
    finally:
        await second.close()


async def _count(store: Store, n: int) -> int | None:
    count = len(await passings(store))
    return count if count >= n else None


async def test_two_ingestors_at_once_make_the_passings_of_one(redis, ingest, paris):
    one, store = ingest
    other = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
    await other.start()
    try:
        rng = random.Random(7)
        chips = [p.chips[0] for p in paris.participants[1:301]]
        by_mat = {
            mat: lines(mat, rng.sample(chips, len(chips)), 1, minute)
            for mat, minute in (("start", 1), ("marbeuf", 3), ("concorde", 9), ("finish", 25))
        }
        by_mat["marbeuf"] += lines("marbeuf", chips[:50], 301, 3)  # a burst: re-reads of the same crossing
        ports = {"start": one.port, "marbeuf": other.port, "concorde": one.port, "finish": other.port}
        await asyncio.gather(*(send(ports[m], m, b, f"start~{m}") for m, b in by_mat.items()))
        await wait_for(lambda: _count(store, 4 * 300))
        together = await passings(store)

        clock = await store.clock()
        await redis.flushall()  # the same reads through one ingestor, one mat after the other
        await store.setup()
        await store.set_clock(clock)  # else, once the server re-reads it, times of day fall on today
        for mat, batch in by_mat.items():
            await send(one.port, mat, batch, f"start~{mat}")
        await wait_for(lambda: _count(store, 4 * 300))
        alone = await passings(store)
        assert len(together) == 4 * 300 and together == alone
    finally:
        await other.close()
