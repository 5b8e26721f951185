"""The Redis store against a real redis-server: reads collapse to passings, in any order."""

from __future__ import annotations

import random

import pytest

from live.clock import RaceClock
from live.store.ingest import JournalEntry
from live.store.store import RawRead, Store

T0 = 1_700_000_000.0


@pytest.fixture
async def store(redis, paris):
    s = Store(redis, paris)
    await s.setup()
    return s


def chip_of(race, n=5):
    p = race.participants[n]
    return p.bib, p.chips[0]


async def passings(store):
    """Final passing per (bib, timing point index)."""
    out = {}
    for p in await store.passings_after():
        out[(p.bib, p.tp)] = p.time
    return out


async def test_a_burst_of_reads_is_one_passing_at_the_first_read(store, paris):
    bib, chip = chip_of(paris)
    await store.apply_reads([RawRead("marbeuf", chip, T0 + 0.4), RawRead("marbeuf", chip, T0 + 1.2)], wall_s=T0)
    await store.apply_reads([RawRead("marbeuf", chip, T0 + 0.1)], wall_s=T0)  # earlier read arrives late
    assert await passings(store) == {(bib, 1): pytest.approx(T0 + 0.1, abs=0.001)}
    health = (await store.mat_health())["marbeuf"]
    assert health["reads"] == "3" and health["passings"] == "1"


async def test_duplicates_change_nothing(store, paris):
    _, chip = chip_of(paris)
    reads = [RawRead("start", chip, T0), RawRead("concorde", chip, T0 + 500)]
    await store.apply_reads(reads, wall_s=T0)
    before = await store.redis.xlen(store.keys.passings)
    assert await store.apply_reads(reads * 3, wall_s=T0) == 0
    assert await store.redis.xlen(store.keys.passings) == before


async def test_a_mat_crossed_twice_assigns_crossings_in_time_order(store, paris):
    bib, chip = chip_of(paris)
    second, first = T0 + 1500, T0 + 150
    await store.apply_reads([RawRead("marbeuf", chip, second)], wall_s=T0)
    await store.apply_reads([RawRead("marbeuf", chip, first)], wall_s=T0)
    tps = [tp.index for tp in paris.timing_points_of("marbeuf")]
    assert await passings(store) == {(bib, tps[0]): first, (bib, tps[1]): second}


async def test_shuffled_delivery_ends_in_the_in_order_state(redis, paris):
    rng = random.Random(7)
    reads = []
    for n in range(40):
        _, chip = chip_of(paris, n)
        for tp in paris.timing_points:
            t = T0 + tp.at_m / 3.0 + n
            reads += [RawRead(tp.mat, chip, t + j * 0.3) for j in range(3)]
    in_order = Store(redis, paris)
    await in_order.setup()
    await in_order.apply_reads(sorted(reads, key=lambda r: r.time), wall_s=T0)
    expected = await passings(in_order)
    await in_order.reset()

    shuffled = Store(redis, paris)
    await shuffled.setup()
    rng.shuffle(reads)
    for i in range(0, len(reads), 17):
        await shuffled.apply_reads(reads[i : i + 17] + reads[max(0, i - 5) : i], wall_s=T0)  # resends too
    assert await passings(shuffled) == expected
    assert len(expected) == 40 * len(paris.timing_points)


async def test_unknown_chips_are_kept_and_counted(store):
    await store.apply_reads([RawRead("finish", "DEADBEEF", T0), RawRead("finish", "DEADBEEF", T0 + 0.5)], wall_s=T0)
    assert await store.unknown_chips() == {"DEADBEEF": 2}
    assert await store.redis.hget(store.keys.crossings, "chip:DEADBEEF|finish") == f"{T0:.3f}".encode()
    assert await passings(store) == {}


async def test_gun_markers_start_pens_in_release_order_then_the_pursuer(store, paris):
    started = [await store.record_gun(T0 + 300 * i) for i in range(len(paris.pens))]
    assert started == [f"pen:{p.id}" for p in paris.pens]
    assert await store.record_gun(T0 + 300.5) is None, "a resent marker is ignored"
    assert await store.record_gun(T0 + 5000) == "pursuer"
    assert await store.record_gun(T0 + 6000) is None
    assert (await store.guns())["pen:1"] == T0


async def test_journal_and_clock(store):
    lines = ("CT01_33~1~start~X~10:00:00.00~0~A~1", "junk")
    ids = await store.journal([JournalEntry("ctp01", "r", 0.0, [line]) for line in lines])
    assert len(ids) == 2 and await store.redis.xlen(store.keys.journal) == 2
    clock = RaceClock(origin_wall=T0, origin_race=T0 - 100, speed=20.0)
    await store.set_clock(clock)
    assert await store.clock() == clock


async def test_reset_removes_only_this_race(store, redis):
    await redis.set("other", "1")
    await store.journal([JournalEntry("ctp01", "r", 0.0, ["x"])])
    assert await store.reset() >= 1
    assert await redis.get("other") == b"1"
    assert await redis.exists(store.keys.journal) == 0


@pytest.fixture
def race_with_backup(tmp_path, paris):
    import shutil

    from live.race.race_file import load_race
    from tests.helpers.paths import PARIS

    target = tmp_path / "race"
    shutil.copytree(PARIS, target)
    with (target / "race.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[mats]]\nid = "finish-b"\nbackup_of = "finish"\naliases = ["FINISH2"]\n')
    return load_race(target)


async def test_a_backup_mat_only_fills_holes(redis, race_with_backup):
    race = race_with_backup
    store = Store(redis, race)
    await store.setup()
    a, b = race.participants[5], race.participants[6]
    finish = race.finish.index
    await store.apply_reads(
        [
            RawRead("finish", a.chips[0], T0 + 1.0), RawRead("finish-b", a.chips[0], T0 + 0.5),  # main read wins
            RawRead("finish-b", b.chips[0], T0 + 3.0),  # main missed b: the backup fills the hole
        ],
        wall_s=T0,
    )  # fmt: skip
    assert (await passings(store))[(a.bib, finish)] == pytest.approx(T0 + 1.0, abs=0.001)
    assert (await passings(store))[(b.bib, finish)] == pytest.approx(T0 + 3.0, abs=0.001)
    # the main mat's read of b arrives late: it replaces the backup's, even though later
    await store.apply_reads([RawRead("finish", b.chips[0], T0 + 3.2)], wall_s=T0)
    assert (await passings(store))[(b.bib, finish)] == pytest.approx(T0 + 3.2, abs=0.001)
    health = await store.mat_health()
    assert health["finish-b"]["reads"] == "2" and health["finish"]["reads"] == "2"
    assert race.mat_for_location("FINISH2") == "finish-b" and race.timing_points_of("finish-b") == (race.finish,)


async def test_a_peak_rssi_mat_times_the_passing_by_the_strongest_read(redis, tmp_path):
    import shutil

    from live.race.race_file import load_race
    from tests.helpers.paths import PARIS

    target = tmp_path / "race"
    shutil.copytree(PARIS, target)
    toml = (target / "race.toml").read_text(encoding="utf-8")
    (target / "race.toml").write_text(
        toml.replace('id = "concorde"', 'id = "concorde"\npick = "peak_rssi"'), encoding="utf-8"
    )
    race = load_race(target)
    store = Store(redis, race)
    await store.setup()
    p = race.participants[5]
    tp = race.timing_points_of("concorde")[0].index
    reads = [RawRead("concorde", p.chips[0], T0 + 0.2, -70.0), RawRead("concorde", p.chips[0], T0 + 0.9, -52.0),
             RawRead("concorde", p.chips[0], T0 + 1.4, -61.0)]  # fmt: skip
    for order in (reads, reads[::-1]):
        await store.reset()
        await store.setup()
        await store.apply_reads(order, wall_s=T0)
        assert (await passings(store))[(p.bib, tp)] == pytest.approx(T0 + 0.9, abs=0.001)
    # a first-read mat ignores RSSI
    await store.apply_reads(
        [RawRead("marbeuf", p.chips[0], T0 + 0.2, -70.0), RawRead("marbeuf", p.chips[0], T0 + 0.9, -50.0)], wall_s=T0
    )
    assert (await passings(store))[(p.bib, 1)] == pytest.approx(T0 + 0.2, abs=0.001)
