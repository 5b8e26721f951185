"""A race over midnight: time-of-day reads land on the right date live, in replay and in rebuild."""

from __future__ import annotations

from datetime import datetime

from ingest.replay import rebuild, replay_files
from live.race.race import Race
from live.store.store import Store
from simulator.trajectory import plan_race
from tests.helpers.commands import cli
from tests.helpers.paths import PARIS
from tests.helpers.readers import MIXED, crossings, ingestor, planned_crossings, run_race, same_crossings

NIGHT = "2021-10-30"  # the night before the Paris race file's date (the clocks go back at 03:00 after it)


def paris_time(race: Race, hh: int, mm: int) -> float:
    return datetime(2021, 10, 30, hh, mm, tzinfo=race.timezone).timestamp()


def after_midnight(planned: dict[str, list[float]], race: Race) -> int:
    midnight = datetime(2021, 10, 31, tzinfo=race.timezone).timestamp()
    return sum(t >= midnight for times in planned.values() for t in times)


async def test_race_clock_pinned_at_2350_paris_crosses_midnight_live_in_replay_and_rebuild(
    redis, paris: Race, tmp_path
):
    origin = paris_time(paris, 23, 50)
    first_gun = origin + 60.0
    async with ingestor(redis, paris, ["concorde"], origin=origin) as ing:
        await run_race(ing, paris, MIXED, first_gun=first_gun, seed=5, runners=30, record=tmp_path)
        live = await crossings(ing.store)
    planned = planned_crossings(plan_race(paris, first_gun, seed=5, runners=30))
    assert after_midnight(planned, paris) > 50, "most of the race is after midnight"
    assert same_crossings(live, planned), "live: every read on its own date"

    await redis.flushall()
    store = Store(redis, paris)
    await store.setup()
    files = sorted(tmp_path.iterdir())  # noqa: ASYNC240 (a test's temporary directory)
    report = await replay_files(paris, store, files, day=NIGHT)
    assert report.errors == 0 and report.guns == 6
    assert same_crossings(await crossings(store), planned), "replay of the backup files"
    await rebuild(paris, store)
    assert same_crossings(await crossings(store), planned), "rebuild from the journal of the replay"


async def test_night_race_with_the_pursuer_at_2345_replayed_from_backup_files(
    redis_server, redis, paris: Race, tmp_path
):
    head_s = max(p.head_start_s for p in paris.pens)
    first_gun = paris_time(paris, 23, 45) - head_s  # the first pen at 23:26, the pursuer at 23:45
    async with ingestor(redis, paris, origin=first_gun - 60.0) as ing:
        await run_race(ing, paris, dict.fromkeys(MIXED, "chronotrack") | {"start": "mylaps"}, first_gun=first_gun,
                       seed=6, runners=25, record=tmp_path)  # fmt: skip
    planned = planned_crossings(plan_race(paris, first_gun, seed=6, runners=25))
    assert after_midnight(planned, paris) > 20

    await redis.flushall()
    files = [str(p) for p in sorted(tmp_path.iterdir())]  # noqa: ASYNC240 (a test's temporary directory)
    code, out, err = await cli(redis_server.url, "replay", "--race", str(PARIS), "--date", NIGHT, *files)
    assert code == 0, err
    assert '"errors":0' in out and '"guns":6' in out
    assert same_crossings(await crossings(Store(redis, paris)), planned), "reads after midnight are on the 31st"
