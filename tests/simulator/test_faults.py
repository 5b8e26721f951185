"""Faults on demand end in the results of a clean run; what no mat saw is reported missing; the
readers' backup files replay to the same passings."""

from __future__ import annotations

from pathlib import Path

from ingest.replay import replay_files
from live.race.race import Race
from live.store.store import Store
from simulator.faults import Faults
from simulator.observations import fault_mat
from tests.helpers.readers import MIXED, crossings, ingestor, results, run_race, same_crossings

SEED, RUNNERS = 12, 80


async def test_every_fault_ends_in_the_clean_results_and_the_unrecoverable_is_reported(redis, paris: Race, tmp_path):
    options = {"seed": SEED, "runners": RUNNERS, "late_max_s": 6.0}
    async with ingestor(redis, paris, ["concorde"]) as ing:
        clean = await run_race(ing, paris, MIXED, **options)
        clean_crossings = await crossings(ing.store)
        clean_results = await results(paris, ing.store)
    await redis.flushall()
    async with ingestor(redis, paris, ["concorde"]) as ing:
        faulty = await run_race(ing, paris, MIXED, faults=Faults.parse("all"), record=tmp_path, **options)
        got = await crossings(ing.store)
        got_results = await results(paris, ing.store)
        health = await ing.store.mat_health()
        totals = await redis.hgetall(ing.store.keys.ingest)
        unknown = await ing.store.unknown_chips()

    assert clean.missing == [] and faulty.outcome == clean.outcome, "faults never change the true race"
    # the pursuer not read at the middle mat, and the runners who crossed it while it was silent
    target = fault_mat(paris)
    assert target == "concorde" and {c.mat for c in faulty.missing} == {target}
    assert paris.pursuer.bib in {c.bib for c in faulty.missing} and len(faulty.missing) > 5
    assert any("silent" in note for note in faulty.notes)
    expected = {k: list(v) for k, v in clean_crossings.items()}
    for c in faulty.missing:
        expected[f"{c.bib}|{c.mat}"].remove(round(c.time, 2))
    expected = {k: v for k, v in expected.items() if v}
    assert same_crossings(got, expected, tolerance_s=0.0), "everything recoverable recovered, nothing invented"
    assert got_results == clean_results, "the same winners and caught runners"

    assert set(unknown) == set(faulty.unknown_chips) and len(unknown) == 24, "unknown chips are kept"
    # garbled lines are rejected and counted on their mat (MYLAPS noise names no mat: the ingest totals);
    # noise in flight when a connection drops is lost with it, and a resent message brings its noise again
    errors = {m: int(h.get("errors", 0)) for m, h in health.items()} | {"": int(totals.get(b"errors", 0))}
    assert all(errors[m] > 0 for m, p in MIXED.items() if p != "mylaps") and errors[""] > 0, errors
    assert errors["marbeuf"] == 0 and 10 < sum(errors.values()) <= faulty.noise, "nothing but the noise rejected"
    assert faulty.connections >= 2 * clean.connections, "every connected reader dropped and came back"
    assert faulty.lines_per_mat == {m: n for m, n in faulty.lines_per_mat.items() if n > 0}

    # the readers' own backup files, replayed into an empty Redis, give the same crossings
    files = sorted(Path(tmp_path).iterdir())  # noqa: ASYNC240 (a test's temporary directory)
    assert [f.name for f in files] == sorted(f"{m}-{p}.txt" for m, p in MIXED.items())
    assert files == sorted(faulty.backups)
    await redis.flushall()
    store = Store(redis, paris)
    await store.setup()
    report = await replay_files(paris, store, files)
    assert report.errors == 0 and report.guns == len(faulty.guns)
    assert same_crossings(await crossings(store), got, tolerance_s=0.0)
    assert set(await store.unknown_chips()) == set(faulty.unknown_chips)
