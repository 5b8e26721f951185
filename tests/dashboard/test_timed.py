"""Race control's numbers for a race without a pursuer and the table by sex and category, from a
snapshot the engine computes by hand (no Redis, no browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dashboard import timed
from live.engine.engine import LiveEngine
from live.race.race import Race
from live.race.race_file import load_race
from tests.helpers.plain_race import write_plain_race


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Race:
    return load_race(write_plain_race(Path(tmp_path_factory.mktemp("plain")) / "plain-10k"))


def snapshot_of(race: Race, finished: int, running_to: int):  # type: ignore[no-untyped-def]
    """50 min after wave A: the first ``finished`` women home, one man read as far as timing point
    ``running_to``."""
    engine = LiveEngine(race, None)
    now = race.pens[0].planned_start.timestamp() + 3000
    engine.guns = {"pen:A": now - 3000, "pen:B": now - 2700}
    k = len(race.timing_points)
    women = [i for i, p in enumerate(race.runners) if p.sex == "F"][:finished]
    for i in women:
        engine.times[i] = engine.guns[f"pen:{race.runners[i].pen}"] + np.linspace(5, 2500 + i, k)
    man = next(i for i, p in enumerate(race.runners) if p.sex == "M")
    engine.times[man, : running_to + 1] = now - 3000 + np.linspace(5, 2000, k)[: running_to + 1]
    engine.snapshot = engine.compute(now)
    return engine.snapshot, race.runners[man]


def test_kpis_say_the_leader_and_the_counts(plain):
    snap, man = snapshot_of(plain, finished=3, running_to=8)
    texts = timed.kpi_texts(plain, snap)
    assert texts["kpi-finished"] == "3" and texts["kpi-running"] == "1" and texts["kpi-started"] == "4"
    assert texts["kpi-leader"].startswith(f"{man.bib} {man.name} · 6.9") and texts["kpi-clock"] == "50:00"
    assert [r["bib"] for r in timed.leaders_on_course(plain, snap)] == [man.bib]


def test_the_group_table_sets_finishers_against_the_quotas(plain):
    snap, _ = snapshot_of(plain, finished=3, running_to=2)
    assert timed.group_header(plain) == ["group", "runners", "finished", "running", "quota"]
    rows = {r[0]: r for r in timed.group_rows(plain, snap)}
    women = sum(p.sex == "F" for p in plain.runners)
    assert rows["sex F"] == ["sex F", f"{women:,}", "3", "0", "50 (47 to go)"]
    assert rows["sex M"][2:] == ["0", "1", "–"]
    assert rows["category Master"][4].startswith("40 (")
    tiny = Race(**{**plain.__dict__, "quotas": {"sex": {"F": 2}}})
    assert dict((r[0], r[4]) for r in timed.group_rows(tiny, snap))["sex F"] == "2 ✓ reached"


def test_a_chase_counts_winners(paris):
    assert timed.group_header(paris)[2] == "won"
