"""Applying reads in batches ends in exactly the state of one read per call: the same crossings, the
same passings stream entries in the same order, the same unknown chips and mat counters."""

from __future__ import annotations

import random
import shutil

import pytest

from live.race.race import Race
from live.race.race_file import load_race
from live.store.ingest import JournalEntry
from live.store.store import RawRead, Store
from tests.helpers.paths import PARIS

T0 = 1_700_000_000.0


@pytest.fixture
def race(tmp_path) -> Race:
    """The default race with a backup mat at the finish and a peak-RSSI mat at Concorde."""
    target = tmp_path / "race"
    shutil.copytree(PARIS, target)
    toml = (target / "race.toml").read_text(encoding="utf-8")
    toml = toml.replace('id = "concorde"', 'id = "concorde"\npick = "peak_rssi"')
    toml += '\n[[mats]]\nid = "finish-b"\nbackup_of = "finish"\naliases = ["FINISH2"]\n'
    (target / "race.toml").write_text(toml, encoding="utf-8")
    return load_race(target)


def messy_reads(race: Race, seed: int) -> list[RawRead]:
    """Bursts, resends, exact duplicates, chains of reads a little under the burst window apart, an
    out-and-back mat crossed twice, unknown chips, RSSI on some reads, shuffled a little."""
    rng = random.Random(seed)
    mats = [m.id for m in race.mats]
    chips = [p.chips[0] for p in race.participants[1:12]] + ["DEADBEEF", "CAFE01"]
    reads = []
    for _ in range(300):
        chip, mat = rng.choice(chips), rng.choice(mats)
        base = T0 + rng.choice([0.0, 0.0, 29.0, 58.0, 1500.0]) + rng.random() * 3
        for _ in range(rng.randint(1, 4)):
            t = round(base + rng.random() * rng.choice([0.5, 2.0, 31.0]), rng.choice([2, 3, 6]))
            rssi = rng.choice([None, -70.0, -61.5, -52.0, -61.5])
            reads.append(RawRead(mat, chip, t, rssi))
    reads += rng.sample(reads, 60)  # resends
    for i in range(0, len(reads) - 8, 8):
        window = reads[i : i + 8]
        rng.shuffle(window)
        reads[i : i + 8] = window
    return reads


async def state(store: Store) -> dict[str, object]:
    r = store.redis
    stream = [(f[b"bib"], f[b"tp"], f[b"t"]) for _, f in await r.xrange(store.keys.passings)]
    health = await store.mat_health()
    for row in health.values():
        row.pop("last_read_wall", None)
    return {
        "crossings": await r.hgetall(store.keys.crossings),
        "passings": stream,
        "unknown": await store.unknown_chips(),
        "health": health,
    }


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_batches_end_in_the_state_of_one_read_per_call(redis, race, seed):
    reads = messy_reads(race, seed)
    store = Store(redis, race)
    await store.setup()
    emitted_one_by_one = 0
    for r in reads:
        emitted_one_by_one += await store.apply_reads([r], wall_s=T0)
    expected = await state(store)
    assert len(expected["passings"]) > 50 and expected["unknown"]  # the reads do exercise the rules

    for size in (7, 100, len(reads)):
        await store.reset()
        await store.setup()
        emitted = 0
        for i in range(0, len(reads), size):
            emitted += await store.apply_reads(reads[i : i + size], wall_s=T0)
        assert await state(store) == expected
        assert emitted == emitted_one_by_one


async def test_journal_and_apply_is_journal_then_apply_then_sequences(redis, race):
    store = Store(redis, race)
    await store.setup()
    chip = race.participants[5].chips[0]
    reads = [RawRead("marbeuf", chip, T0 + 0.4), RawRead("marbeuf", chip, T0 + 0.1)]
    lines = ["CT01_33~7~marbeuf~x~1~0~A~1", "CT01_33~9~marbeuf~x~1~0~A~1"]
    emitted = await store.journal_and_apply("ctp01", "peer", T0, lines, reads, {"marbeuf": 9}, {"marbeuf": 1})
    assert emitted == 2  # set at .4, re-timed to .1
    (_, entry), *_ = await store.journal_entries("-", 10)
    assert JournalEntry.read(entry) == JournalEntry("ctp01", "peer", T0, lines) and entry[b"n"] == b"2"
    assert await store.last_sequences(["marbeuf"]) == {"marbeuf": 9}
    health = (await store.mat_health())["marbeuf"]
    assert (health["reads"], health["passings"], health["seq_gaps"]) == ("2", "1", "1")
