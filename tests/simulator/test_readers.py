"""Every emulated reader, in its real role over real sockets, into a real ingestor and Redis."""

from __future__ import annotations

import asyncio

import pytest

from live.race.race import Race
from simulator.faults import Faults
from simulator.jsonws import MESSAGE_BYTES, EmulatedJsonReader
from simulator.observations import Observation
from simulator.run import assign_protocols
from simulator.trajectory import plan_race
from tests.helpers import journaled
from tests.helpers.readers import (
    FIRST_GUN,
    MIXED,
    ORIGIN,
    crossings,
    ingestor,
    planned_crossings,
    results,
    run_race,
    same_crossings,
)


async def test_every_protocol_delivers_every_crossing_late_and_out_of_order(redis, paris: Race):
    async with ingestor(redis, paris, ["concorde"]) as ing:
        report = await run_race(ing, paris, MIXED, seed=4, runners=60, late_max_s=6.0)
        health = await ing.store.mat_health()
    plan = plan_race(paris, FIRST_GUN, seed=4, runners=60)
    assert report.protocols == MIXED and report.missing == [] and report.noise == 0
    assert same_crossings(await crossings(ing.store), planned_crossings(plan)), "every mat, every runner"
    assert await ing.store.guns() == pytest.approx(
        {("pursuer" if g.pen == "" else f"pen:{g.pen}"): g.time for g in plan.guns}, abs=0.011
    )
    assert {m: int(h.get("errors", 0)) for m, h in health.items()} == dict.fromkeys(MIXED, 0)
    assert all(int(h["passings"]) > 0 for h in health.values())
    # per-crossing decoders send one record per crossing, the others every raw read
    assert report.lines_per_mat["concorde"] == len(plan.crossings)
    assert report.lines_per_mat["marbeuf"] == 2 * len(plan.crossings)
    assert report.lines_per_mat["george-v"] == sum(r.mat == "george-v" for r in plan.reads)
    statuses = await results(paris, ing.store)
    assert sum(s == "won" for s in statuses.values()) == report.winners
    assert {b for b, s in statuses.items() if s == "won"} == {b for b, w in report.outcome.won.items() if w}


async def test_mylaps_start_gives_the_guns_and_a_race_result_clock_offset_is_measured(redis, paris: Race):
    protocols = dict.fromkeys(MIXED, "mylaps") | {"finish": "raceresult"}
    async with ingestor(redis, paris, ["finish"]) as ing:
        report = await run_race(ing, paris, protocols, seed=8, runners=25, clock_offsets={"finish": 12.5})
        health = await ing.store.mat_health()
    plan = plan_race(paris, FIRST_GUN, seed=8, runners=25)
    assert len(await ing.store.guns()) == len(plan.guns) == 6, "Gunshot markers start the pens, then the pursuer"
    assert float(health["finish"]["clock_offset_s"]) == pytest.approx(12.5, abs=1.0), "GETTIME, race clock"
    # the decoder stamps its own clock: the ingestor shows the offset and keeps the decoder's times
    assert same_crossings(await crossings(ing.store), planned_crossings(plan, {"finish": 12.5}))
    assert report.connections == 5 and report.lines_per_mat["finish"] == len(plan.crossings)


def test_protocol_assignment(paris: Race):
    mixed = assign_protocols(paris, "mixed")
    assert mixed["start"] == "chronotrack" and set(mixed.values()) == {"chronotrack", "mylaps", "raceresult", "json"}
    assert assign_protocols(paris, "concorde=raceresult,FINISH=json") == {
        "start": "chronotrack", "marbeuf": "chronotrack", "concorde": "raceresult", "george-v": "chronotrack",
        "finish": "json",
    }  # fmt: skip
    with pytest.raises(ValueError, match="carries the guns"):
        assign_protocols(paris, "start=json")
    with pytest.raises(ValueError, match="is none of"):
        assign_protocols(paris, "concorde=ultra")
    with pytest.raises(ValueError, match="<mat>=<protocol>"):
        assign_protocols(paris, "nowhere=mylaps")
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.parse("drop,flood")
    assert Faults.parse("all") == Faults(True, True, True, True, True, True)


async def test_a_json_reader_with_a_backlog_sends_messages_the_ingestor_takes(redis, paris: Race):
    """2,000 reads due at once: 1,000 to a message would be ~81 kB, over the web server's 64 KiB."""
    chips = [p.chips[0] for p in paris.participants]
    reads = [Observation(ORIGIN - 60, ORIGIN - 600 + 0.25 * i, chips[i % len(chips)], -60.0, 1) for i in range(2000)]
    async with ingestor(redis, paris) as ing:
        reader = EmulatedJsonReader("george-v", ing.clock, reads, ing.web_url, ing.tokens["george-v"])
        await asyncio.wait_for(reader.run(), 30)
        health = (await ing.store.mat_health())["george-v"]
        lines = [unit.encode() for units in await journaled(ing.store) for unit in units]
    assert reader.done and reader.connections == 1 and reader.resent == 0
    assert len(lines) >= 3 and max(len(line) for line in lines) <= MESSAGE_BYTES
    assert int(health["reads"]) == 2000 and int(health.get("errors", 0)) == 0
