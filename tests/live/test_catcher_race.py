"""The catcher-car race model (issue 23, part 4): ``[race] outcome = "distance"``, milestones, a lap
course whose mats are crossed once a lap, and every lap's reads landing on that lap's timing point."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from live.chase.projection import plausible_passings
from live.race.errors import RaceError
from live.race.race_file import load_race
from live.store.store import RawRead, Store

WORLD_RUN = Path(__file__).resolve().parents[2] / "races" / "world-run-paris"
T0 = 1_777_777_000.0


@pytest.fixture(scope="module")
def world_run():
    return load_race(WORLD_RUN)


def test_world_run_paris_is_a_distance_race_on_laps(world_run):
    assert world_run.outcome == "distance" and world_run.by_distance
    assert world_run.milestones_m == (5000, 10000, 21097.5, 30000, 42195)
    assert world_run.pursuer.schedule is not None and world_run.pursuer.schedule.steps[-1] == (18000, 35)
    crossings = {m.id: len(m.at_m) for m in world_run.mats}
    assert crossings == {"arc": 27, "marbeuf": 26, "concorde": 26, "george-v": 26}
    assert world_run.distance_m > 100_000 and len(world_run.participants) == 5001
    assert world_run.declared_distance_m == 10_000  # declared_s is a 10 km time
    ids = [tp.id for tp in world_run.timing_points]
    assert ids[:5] == ["arc", "marbeuf", "concorde", "george-v", "arc#2"] and ids[-1] == "arc#27"


def test_a_finish_race_keeps_its_outcome(paris):
    assert paris.outcome == "finish" and paris.milestones_m == () and not paris.by_distance
    assert paris.declared_distance_m == paris.distance_m


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    root = tmp_path / "race"
    shutil.copytree(WORLD_RUN, root)
    toml = root / "race.toml"
    text = toml.read_text(encoding="utf-8")
    assert old in text
    toml.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ('outcome = "distance"', 'outcome = "furthest"', "race.outcome", "'finish' or 'distance'"),
        ("schedule = [", "# schedule = [", "race.outcome", "needs a [pursuer] schedule"),
        ("milestones_m = [5000,", "milestones_m = [10000, 5000,", "race.milestones_m", "increasing"),
        ("milestones_m = [5000,", "milestones_m = [500000,", "race.milestones_m", "not within the course"),
        ("milestones_m = [5000,", 'milestones_m = ["5k",', "race.milestones_m", "list of distances"),
        ('outcome = "distance"', 'outcome = "finish"', "race.milestones_m", 'outcome = "distance"'),
    ],
)
def test_bad_outcome_or_milestones_name_the_key(tmp_path, old, new, key, words):
    with pytest.raises(RaceError) as err:
        load_race(_edited(tmp_path, old, new))
    assert err.value.where == key and words in err.value.message
    assert err.value.file.endswith("race.toml")


async def test_every_lap_lands_on_its_own_timing_point(redis, world_run):
    """27 crossings of the Arc (and 26 of every other mat), their reads sent in any order and in
    bursts: each lap's crossing becomes that lap's timing point, and the engine's plausibility rules
    keep all of them."""
    store = Store(redis, world_run)
    await store.setup()
    runner = world_run.participants[7]
    at_m = np.array([tp.at_m for tp in world_run.timing_points])
    truth = T0 + at_m / 3.2  # 3.2 m/s: a lap of the avenue in about 20 minutes
    reads = []
    rng = random.Random(4)
    for tp, t in zip(world_run.timing_points, truth, strict=True):
        reads += [RawRead(tp.mat, runner.chips[0], t + d) for d in (0.0, rng.uniform(0.1, 1.2))]
    rng.shuffle(reads)
    for i in range(0, len(reads), 13):
        await store.apply_reads(reads[i : i + 13], wall_s=T0)
    got = np.full(len(at_m), np.nan)
    for p in await store.passings_after():
        assert p.bib == runner.bib
        got[p.tp] = p.time
    assert got == pytest.approx(truth, abs=0.001)
    mats = [tp.mat for tp in world_run.timing_points]
    used, flagged = plausible_passings(got[None, :], at_m, mats, world_run.max_speed_m_s)
    assert not flagged.any() and used[0] == pytest.approx(truth, abs=0.001)


def test_a_missed_lap_read_is_moved_to_its_own_lap(world_run):
    """A runner the Arc missed on lap 3: his later Arc reads are numbered one lap early by the store
    (the n-th crossing it heard), and the engine moves each back to its lap from the other mats' reads."""
    at_m = np.array([tp.at_m for tp in world_run.timing_points])
    mats = [tp.mat for tp in world_run.timing_points]
    arc = [j for j, m in enumerate(mats) if m == "arc"]
    truth = T0 + at_m / 3.0
    heard = truth.copy()
    heard[arc[2]] = np.nan  # lap 3's Arc crossing unread: the store numbers the later ones one early
    shifted = truth.copy()
    shifted[arc[2:]] = np.append(heard[arc[3:]], np.nan)
    used, _ = plausible_passings(shifted[None, :], at_m, mats, world_run.max_speed_m_s)
    expected = truth.copy()
    expected[arc[2]] = np.nan
    np.testing.assert_allclose(used[0], expected, atol=0.001)
