"""``pursuit evaluate`` and the live API give the same numbers for the same passings at the same moment
(issue 12): a replayed chase scored in memory, then the same passings sent through a real Redis to the
real web app under uvicorn, its clock held at that moment."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from live.clock import RaceClock
from live.engine.evaluation import ChaseReplay
from live.forecast.model import default_model
from live.store.store import RawRead, Store
from pursuit.web import create_app
from simulator.evaluation import GUN, RaceFiles
from simulator.results import chase_field, chip_of, mat_ids, write_race
from tests.helpers import eventually, running_uvicorn

HEADER = "year|bib|age_group|gender|country|rank_gender|rank_age_group|5k|10k|15k|20k|half|25k|30k|35k|40k|finish"
AT_M = np.array([5000, 10000, 15000, 20000, 21097.5, 25000, 30000, 35000, 40000, 42195.0])


def results_file(path: Path) -> Path:
    """A field of 60 runners from 2:45 to 5:15 who fade a little, and a 2:05 pursuer (bib P)."""
    rng = np.random.default_rng(12)
    lines = [HEADER, " 2017|P|18-39|M|KEN|1|1|" + "|".join(f"{7500 * d / 42195:.1f}" for d in AT_M)]
    for i, finish in enumerate(np.linspace(9900, 18900, 60)):
        fade = 1.0 + rng.uniform(0.0, 0.12) * np.clip((AT_M - 21097.5) / 21097.5, 0, None)
        splits = finish * AT_M / 42195 / (1.0 + 0.03) * fade
        lines.append(f" 2017|{i + 10}|18-39|M|FRA|{i + 2}|{i + 2}|" + "|".join(f"{s:.1f}" for s in splits))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_evaluate_and_the_live_api_agree(tmp_path, redis_server, redis):
    race_files = RaceFiles.load([results_file(tmp_path / "even_2017_M.csv")])
    delay = 3600.0
    chase = chase_field(race_files.results, "P", delay, wire=False)
    model = default_model()
    race = write_race(
        chase, tmp_path / "race", GUN, "agree", pursuer_finish_s=model.reference_finish_s,
    )  # fmt: skip
    replay = ChaseReplay(race, chase.elapsed_s, chase.pursuer_row, delay, GUN, model)
    evaluation = replay.evaluate(0.5)
    snap = replay.snapshot_at(evaluation.moment_s)
    now = GUN + evaluation.moment_s

    store = Store(redis, race)
    await store.setup()
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=now, speed=1e-9))  # held at the moment
    await store.record_gun(GUN)  # the field's pen
    await store.record_gun(GUN + delay)  # the pursuer
    mats = mat_ids(chase)
    starts = np.where(np.arange(len(chase.bibs)) == chase.pursuer_row, GUN + delay, GUN)
    reads = []
    for row, bib in enumerate(chase.bibs):
        times = np.concatenate([[0.0], chase.elapsed_s[row]]) + starts[row]
        reads += [RawRead(mats[j], chip_of(str(bib)), float(t)) for j, t in enumerate(times) if t <= now]
    await store.apply_reads(reads, wall_s=time.time())

    app = create_app(race, redis_server.url, dashboard=False)
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def state_with_all_passings() -> dict | None:
            r = await client.get("/api/state")
            body = r.json() if r.status_code == 200 else None
            return body if body and body["counts"]["started"] == len(chase.bibs) - 1 else None

        state = await eventually(state_with_all_passings)
        f = snap.forecast
        assert (state["forecast"]["winners"], state["forecast"]["low"], state["forecast"]["high"]) == (
            f.winners, f.low, f.high,
        )  # fmt: skip
        assert state["forecast"]["at_plan"] == f.at_plan
        for i, bib in enumerate(evaluation.bibs):
            body = (await client.get(f"/api/runners/{bib}")).json()
            assert body["win_probability"] == pytest.approx(round(float(evaluation.win_probability[i]), 3), abs=1e-9)
            assert body["margin_s"] == pytest.approx(float(evaluation.predicted_margin_s[i]), abs=0.06)
    open_chances = evaluation.win_probability[(evaluation.win_probability > 0.05) & (evaluation.win_probability < 0.95)]
    assert len(open_chances) >= 5, "the comparison covers runners whose outcome is still open"
