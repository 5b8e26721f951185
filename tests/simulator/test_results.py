"""A real results file replayed through the real ingestor into a real Redis: the passings are the
file's splits, and the live engine's winners are the truth computed from the file."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import redis.asyncio as aioredis

from ingest.chronotrack_server import ChronoTrackServer
from live.chase.snapshot import WON
from live.engine.engine import LiveEngine
from live.forecast.results import Results, load_results
from live.race.race_file import load_race
from live.store.store import Store
from pursuit.redis_server import RedisServer, free_port
from simulator.results import (
    BERLIN_2017_GUN,
    READ_OFFSETS_S,
    ReplayError,
    build_decoders,
    chase_field,
    chip_of,
    plan_reads,
    prepare_replay,
    replay,
    replay_clock,
    write_race,
)
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
BERLIN = [ROOT / "data" / "results" / f"berlin_marathon_2017_{sex}.csv" for sex in ("M", "W")]
KIPCHOGE, TWO_HOURS = "2", 7200.0


@pytest.fixture(scope="module")
def berlin() -> Results:
    return load_results(BERLIN)


async def _ingest(redis: aioredis.Redis, replayed, speed: float | None) -> tuple[Store, object]:  # type: ignore[no-untyped-def]
    """Play a prepared replay through a real ChronoTrack server; returns once Redis counted every read."""
    race, plan = replayed.race, replayed.plan
    store = Store(redis, race)
    await store.setup()
    clock = replay_clock(plan, speed, lead_in_wall_s=0.2)
    await store.set_clock(clock)
    server = ChronoTrackServer(race, store, host="127.0.0.1", port=0)
    await server.start()
    try:
        decoders = build_decoders(race, plan, clock)
        report = await asyncio.wait_for(replay(decoders, "127.0.0.1", server.port, plan, replayed.chase), 30)

        async def all_counted() -> bool:
            health = await store.mat_health()
            return sum(int(h.get("reads", 0)) for h in health.values()) == plan.reads

        await eventually(all_counted, timeout_s=30)
    finally:
        await server.close()
    return store, report


def _file_passings(chase, first_gun: float) -> dict[tuple[str, int], float]:  # type: ignore[no-untyped-def]
    """(bib, timing point) -> time the file implies: the start at the gun, then every split."""
    starts = first_gun + chase.start_offsets_s()
    out = {}
    for i, bib in enumerate(chase.bibs):
        out[(str(bib), 0)] = float(starts[i])
        for j, elapsed in enumerate(chase.elapsed_s[i]):
            if not np.isnan(elapsed):
                out[(str(bib), j + 1)] = float(starts[i] + elapsed)
    return out


async def test_replayed_passings_are_the_files_splits_and_the_engine_finds_the_true_winners(
    redis: aioredis.Redis, berlin: Results, tmp_path: Path
):
    replayed = prepare_replay(
        BERLIN, KIPCHOGE, TWO_HOURS, tmp_path / "race", speed=None, now=0.0, runners=200,
        first_gun=BERLIN_2017_GUN.timestamp(),
    )  # fmt: skip
    chase, plan = replayed.chase, replayed.plan
    store, report = await _ingest(redis, replayed, speed=None)

    assert report.lines_per_mat == {m.mat: len(m.times) + len(m.guns) for m in plan.mats}
    held: dict[tuple[str, int], float] = {}
    for p in await store.passings_after():
        held[(p.bib, p.tp)] = p.time  # a later entry re-times an earlier one
    truth = _file_passings(chase, plan.first_gun)
    assert len(truth) == plan.crossings > 200 * 10
    assert held.keys() == truth.keys(), "one passing per split in the file, no more"
    assert max(abs(held[k] - t) for k, t in truth.items()) < 0.005, "to the hundredth ChronoTrack carries"
    assert await store.guns() == pytest.approx({"pen:field": plan.first_gun, "pursuer": plan.first_gun + TWO_HOURS})

    engine = LiveEngine(replayed.race, store)
    snapshot = await engine.refresh()
    winners = {str(b) for b in snapshot.bibs[snapshot.status == WON]}
    assert 20 < len(chase.true_winners()) < 180, "a slice where the chase is decided both ways"
    assert winners == chase.true_winners()
    assert snapshot.pursuer.status == "finished"
    assert snapshot.counts["won"] + snapshot.counts["caught"] == chase.runners


async def test_replay_in_race_time_at_a_chosen_speed_ends_in_the_same_passings(redis: aioredis.Redis, tmp_path: Path):
    # 40 runners: the slowest finish 8:47 after the gun is played in about a second at 30,000x
    replayed = prepare_replay(BERLIN, KIPCHOGE, TWO_HOURS, tmp_path / "race", speed=30_000.0, now=1.7e9, runners=40)
    store, _ = await _ingest(redis, replayed, speed=30_000.0)
    held = {(p.bib, p.tp): p.time for p in await store.passings_after()}
    truth = _file_passings(replayed.chase, replayed.plan.first_gun)
    assert held.keys() == truth.keys()
    assert max(abs(held[k] - t) for k, t in truth.items()) < 0.005


def test_chase_field_reads_zero_splits_as_missed_and_renames_a_second_bib(berlin: Results):
    chase = chase_field(berlin, KIPCHOGE, TWO_HOURS)
    assert chase.runners == len(berlin.bibs) - 1 and len(set(chase.bibs)) == len(chase.bibs)
    assert {"2483", "2483-2", "46019", "46019-2"} <= set(chase.bibs)
    assert not (chase.elapsed_s <= 0).any(), "the loader reads Berlin's 0 s splits as missing"
    assert any("twice" in n for n in chase.notes)
    zeroed = berlin.elapsed_s.copy()
    zeroed[5, 3] = 0.0  # results built another way may still hold one
    chase = chase_field(dataclasses.replace(berlin, elapsed_s=zeroed), KIPCHOGE, TWO_HOURS)
    assert np.isnan(chase.elapsed_s[5, 3]) and any("0 s" in n for n in chase.notes)


def test_a_slice_keeps_the_pursuer_and_spreads_over_the_finish_times(berlin: Results):
    chase = chase_field(berlin, KIPCHOGE, TWO_HOURS, runners=100)
    assert chase.runners == 100 and chase.pursuer_bib == KIPCHOGE
    finish = np.delete(chase.elapsed_s[:, -1], chase.pursuer_row)
    everyone = np.delete(berlin.finish_s, berlin.row_of(KIPCHOGE))
    assert finish.min() == everyone.min() and finish.max() == everyone.max()
    assert abs(np.median(finish) - np.median(everyone)) < 120


def test_true_winners_finish_strictly_before_the_pursuer():
    at_m = np.array([21097.5, 42195.0])
    results = Results(
        bibs=np.array(["p", "a", "b", "c"], dtype=object),
        sex=np.array(["M", "M", "W", "W"], dtype=object),
        split_names=("half", "finish"),
        at_m=at_m,
        elapsed_s=np.array([[3600.0, 7200.0], [5000.0, 10799.0], [5000.0, 10800.0], [5000.0, 10801.0]]),
    )
    chase = chase_field(results, "p", 3600.0)
    assert chase.true_winners() == {"a"}, "a tie with the pursuer is caught"


def test_chase_field_refuses_what_it_cannot_replay(berlin: Results):
    with pytest.raises(ReplayError, match="not among the finishers"):
        chase_field(berlin, "no-such-bib", 60.0)
    with pytest.raises(ReplayError, match="--delay"):
        chase_field(berlin, KIPCHOGE, -1.0)
    with pytest.raises(ReplayError, match="12 h"):
        chase_field(berlin, KIPCHOGE, 9 * 3600.0, runners=50)  # his 2:03 run 9 h after the gun ends after 11 h


def test_plan_reads_each_crossing_first_at_its_split_then_a_burst(berlin: Results):
    chase = chase_field(berlin, KIPCHOGE, TWO_HOURS, runners=30)
    gun = BERLIN_2017_GUN.timestamp()
    plan = plan_reads(chase, gun, reads_per_crossing=3)
    assert plan.reads == 3 * plan.crossings and [m.mat for m in plan.mats][0] == "start"
    assert plan.mats[0].guns == (gun, gun + TWO_HOURS)
    finish = plan.mats[-1]
    assert all(np.all(np.diff(m.times) >= 0) for m in plan.mats), "each decoder emits in time order"
    p = chase.pursuer_row
    mine = finish.times[finish.chips == chip_of(KIPCHOGE)]
    expected = gun + TWO_HOURS + chase.elapsed_s[p, -1] + np.array(READ_OFFSETS_S[:3])
    assert mine.tolist() == pytest.approx(expected.tolist())


def test_the_written_race_has_a_mat_per_split_and_the_pursuer_after_his_delay(berlin: Results, tmp_path: Path):
    chase = chase_field(berlin, KIPCHOGE, 5400.0, runners=10)
    race = write_race(chase, tmp_path, BERLIN_2017_GUN.timestamp(), "berlin-2017")
    assert [tp.at_m for tp in race.timing_points] == [0.0, *chase.at_m.tolist()]
    assert [m.id for m in race.mats] == ["start", *chase.split_names]
    assert race.distance_m == 42195.0 and abs(race.course.measured_m - 42195.0) < 50
    assert race.pursuer.bib == KIPCHOGE
    assert race.pursuer.planned_start.timestamp() == BERLIN_2017_GUN.timestamp() + 5400.0
    assert [p.head_start_s for p in race.pens] == [5400.0]
    assert len(race.participants) == 11 and all(len(p.chips) == 1 for p in race.participants)


def test_decoders_built_in_bulk_hold_the_lines_add_read_writes(berlin: Results, tmp_path: Path):
    chase = chase_field(berlin, KIPCHOGE, TWO_HOURS, runners=60)
    gun = BERLIN_2017_GUN.timestamp()
    race = write_race(chase, tmp_path, gun, "berlin-2017")
    plan = plan_reads(chase, gun, reads_per_crossing=4)
    clock = replay_clock(plan, None)
    bulk, one_by_one = build_decoders(race, plan, clock), build_decoders(race, plan, clock, bulk=False)
    assert [d.lines for d in bulk] == [d.lines for d in one_by_one]
    assert [d.times for d in bulk] == [d.times for d in one_by_one]
    start = bulk[0].lines
    assert "~guntime~09:15:00.00~" in start[0] and "~guntime~11:15:00.00~" in "".join(start)


async def test_pursuit_simulate_results_writes_the_race_and_plays_it_to_the_ingestor(
    redis: aioredis.Redis, redis_server: RedisServer, berlin: Results, tmp_path: Path
):
    race_dir, port = tmp_path / "race", free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pursuit.cli", "simulate", "--results", *map(str, BERLIN), "--pursuer", KIPCHOGE,
        "--delay", "7200", "--runners", "50", "--speed", "0", "--race", str(race_dir), "--ingest-port", str(port),
        cwd=ROOT, env={**os.environ, "REDIS_URL": redis_server.url}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), 30)
    assert first.startswith(f"race written to {race_dir}/ (50 runners, 11 mats".encode()), first
    race = load_race(race_dir)  # what `pursuit serve --race DIR` loads
    store = Store(redis, race)
    await store.setup()
    server = ChronoTrackServer(race, store, host="127.0.0.1", port=port)
    await server.start()  # after the simulator: its decoders keep trying until the ingestor listens
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        await server.close()
    assert process.returncode == 0
    truth = chase_field(berlin, KIPCHOGE, TWO_HOURS, runners=50).true_winners()
    assert f"true winners {len(truth)}" in out.decode()
    snapshot = await LiveEngine(race, store).refresh()  # on the clock the simulator wrote to Redis
    assert snapshot.pursuer.status == "finished"
    assert {str(b) for b in snapshot.bibs[snapshot.status == WON]} == truth
