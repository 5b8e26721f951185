"""An event's readers over a real socket into a real Redis: one connection and one journal per shared
mat, each read applied to the race of its chip (live/store/event_store.py)."""

from __future__ import annotations

import time
from pathlib import Path

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.race.event import load_event
from live.store.event_store import EventStore, ingest_store
from live.store.store import Store
from tests.helpers import write_event
from tests.ingest.chronotrack_client import RACE_DAY, connect_as_pointcam, read_line, wait_for


async def test_a_shared_mat_journals_once_and_each_read_lands_in_its_race(redis, tmp_path: Path):
    event = load_event(write_event(tmp_path))
    a, b = event.races
    store = ingest_store(redis, event)
    assert isinstance(store, EventStore)
    await store.setup()
    now = RACE_DAY.replace(tzinfo=a.timezone).timestamp()
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=now, speed=1.0))
    server = ChronoTrackServer(event.ingest_race(), store, host="127.0.0.1", port=0)
    await server.start()
    try:
        runner_a, runner_b = a.participants[5], b.participants[6]
        reader, writer = await connect_as_pointcam(server.port)
        writer.write(
            f"CT01_33~1~marbeuf~{runner_a.chips[0]}~10:05:01.20~0~ABC123~1\r\n"
            f"CT01_33~2~marbeuf~{runner_b.chips[0]}~10:05:02.40~0~ABC123~1\r\n"
            "CT01_33~3~marbeuf~STRANGER~10:05:03.00~0~ABC123~1\r\n"
            "ping\r\n".encode()
        )
        await writer.drain()
        assert await read_line(reader) == "ack~ping"
        race_a, race_b = Store(redis, a), Store(redis, b)
        passings_a = await wait_for(race_a.passings_after)
        passings_b = await wait_for(race_b.passings_after)
        assert [x.bib for x in passings_a] == [runner_a.bib], "race A sees its runner only"
        assert [x.bib for x in passings_b] == [runner_b.bib], "race B sees its runner only"
        assert await race_a.unknown_chips() == {"STRANGER": 1}, "a chip no race knows is the event's (the first race's)"
        assert await race_b.unknown_chips() == {}
        journal_a = await redis.xrange(race_a.keys.journal)
        assert len(journal_a) >= 1 and b"STRANGER" in b"".join(f[b"lines"] for _, f in journal_a)
        assert await redis.xlen(race_b.keys.journal) == 0, "one journal per event: the first race's keys"
        for race in (race_a, race_b):  # the connection counts on every race that has the mat
            assert (await race.mat_health())["marbeuf"]["connected"] == "1"
        writer.close()

        async def disconnected() -> bool:
            counts = [(await s.mat_health())["marbeuf"]["connected"] for s in (race_a, race_b)]
            return counts == ["0", "0"]

        await wait_for(disconnected)
    finally:
        await server.close()


async def test_a_gun_from_the_wire_starts_the_race_whose_start_is_planned_nearest(redis, tmp_path: Path):
    """Races whose starts interleave (race B's pens 2 minutes after race A's): each gun marker goes to
    the race whose next start, carried to the day's clock by the starts already fired, is nearest."""
    event = load_event(write_event(tmp_path, delay_min=2))
    store = ingest_store(redis, event)
    assert isinstance(store, EventStore)
    await store.setup()
    race_a, race_b = store.stores
    t0 = 1_700_000_000.0  # race day's clock: nothing to do with the planned date
    assert await store.gun_store(t0) is race_a, "no start fired: the start planned first"
    await race_a.record_gun(t0)  # A's pen 1
    assert await store.gun_store(t0 + 121) is race_b, "B's pen 1 is planned 2 min after A's"
    await race_b.record_gun(t0 + 121)
    assert await store.gun_store(t0 + 299) is race_a, "A's pen 2, 5 min after its pen 1"
    await race_a.record_gun(t0 + 299)
    assert await store.gun_store(t0 + 420) is race_b
    for i in range(3):  # A's pens 3-5, then its pursuer: A has nothing left to fire
        await race_a.record_gun(t0 + 600 + 300 * i)
    await race_a.record_gun(t0 + 1500)
    assert await store.gun_store(t0 + 1500) is race_b


async def test_a_gun_at_one_location_of_a_world_run_starts_that_location(redis, tmp_path: Path):
    """A World Run's locations start at one instant, each on its own mats: a gun marker goes to the race
    that has the mat it came from, whichever race's start is planned nearest."""
    from simulator.event import WORLD_LOCATIONS, write_world_event

    event = load_event(write_world_event(tmp_path, WORLD_LOCATIONS[:3], runners=5))
    store = ingest_store(redis, event)
    assert isinstance(store, EventStore)
    await store.setup()
    t0 = 1_700_000_000.0
    for i in (2, 0, 1):
        assert await store.gun_store(t0, f"{WORLD_LOCATIONS[i][0]}-arc") is store.stores[i]
        await store.stores[i].record_gun(t0)
    assert await store.gun_store(t0 + 1800, "tokyo-arc") is store.stores[1], "its car, at its own mat"


async def test_rebuild_of_an_event_gives_back_every_race_from_the_one_journal(redis, tmp_path: Path):
    """`pursuit rebuild` of an event: the event's journal replayed through the event's store (each read
    to its chip's race) and each race's admin log merged in order: the same passings, statuses and
    guns in every race as before, and no race's chips taken for unknown ones in another."""
    from ingest.replay import rebuild

    event = load_event(write_event(tmp_path))
    a, b = event.races
    store = ingest_store(redis, event)
    assert isinstance(store, EventStore)
    await store.setup()
    now = RACE_DAY.replace(tzinfo=a.timezone).timestamp()
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=now, speed=1.0))
    server = ChronoTrackServer(event.ingest_race(), store, host="127.0.0.1", port=0)
    await server.start()
    race_a, race_b = store.stores
    try:
        reader, writer = await connect_as_pointcam(server.port)
        lines = [f"CT01_33~{i}~marbeuf~{p.chips[0]}~10:05:{i:02d}.20~0~ABC123~1\r\n"
                 for i, p in enumerate((*a.runners[:4], *b.runners[:5]), 1)]  # fmt: skip
        writer.write(("".join(lines) + "ping\r\n").encode())
        await writer.drain()
        assert await read_line(reader) == "ack~ping"
        await wait_for(lambda: _count(race_b, 5))
        writer.close()
    finally:
        await server.close()
    entry = await race_b.log_admin("set_status", {"bib": b.runners[0].bib, "status": "dnf"}, "crew")
    await race_b.set_manual_status(b.runners[0].bib, "dnf")
    await race_b.set_admin_result(entry, {"http": 200})
    before = [sorted((x.bib, x.tp, x.time) for x in await s.passings_after()) for s in (race_a, race_b)]
    assert [len(x) for x in before] == [4, 5]

    report = await rebuild(event.ingest_race(), store)
    after = [sorted((x.bib, x.tp, x.time) for x in await s.passings_after()) for s in (race_a, race_b)]
    assert after == before and report.admin_actions == 1
    assert await race_b.manual_statuses() == {b.runners[0].bib: "dnf"}
    assert await race_a.unknown_chips() == {} and await race_b.unknown_chips() == {}


async def _count(store: Store, n: int) -> bool:
    return len(await store.passings_after()) == n
