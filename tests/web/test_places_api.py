"""Places by sex and category in a chase (the J-1000), over real uvicorn and Redis: the results CSV's
appended columns, counts by sex and category in the state, a runner's places."""

from __future__ import annotations

import csv
import io

import pytest

from live.store.store import RawRead
from tests.helpers import eventually, pens_started


@pytest.fixture
async def chase(redis_server, redis, paris):
    """Pens started, four runners home (winners: the pursuer has not finished), one on the course."""
    async with pens_started(redis_server, redis, paris) as race:
        women = [p for p in paris.runners if p.sex == "F" and p.pen == "1"]
        men = [p for p in paris.runners if p.sex == "M" and p.pen == "1"]
        gun = race.now - 900
        home = [(men[0], 700.0), (women[0], 720.0), (women[1], 760.0), (men[1], 800.0)]
        reads = []
        for person, t in home:
            reads += [RawRead("start", person.chips[0], gun + 2), RawRead("finish", person.chips[0], gun + t)]
        reads.append(RawRead("start", men[2].chips[0], gun + 3))
        await race.store.apply_reads(reads, wall_s=race.now)

        async def four_won() -> bool:
            return (await race.http.get("/api/state")).json()["counts"]["won"] == 4

        await eventually(four_won)
        yield race, home, men[2]


async def test_results_csv_appends_place_sex_and_place_category(chase):
    race, home, _ = chase
    text = (await race.http.get("/api/results.csv")).text
    header = text.splitlines()[0].split(",")
    assert header == ["place", "bib", "name", "pen", "sex", "category", "status", "finish_time", "gun_s", "net_s",
                      "margin_s", "distance_m", "caught_at_m", "caught_time", "win_probability",
                      "place_sex", "place_category"]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["bib"] for r in rows[:4]] == [p.bib for p, _ in home], "winners by finish time"
    assert [r["place"] for r in rows[:4]] == ["1", "2", "3", "4"]
    assert [r["place_sex"] for r in rows[:4]] == ["1", "1", "2", "2"]
    for r in rows[:4]:
        same = [x for x in rows[:4] if (x["sex"], x["category"]) == (r["sex"], r["category"])]
        assert r["place_category"] == str(same.index(r) + 1)
    assert all(r["place_sex"] == r["place_category"] == "" for r in rows[4:]), "only winners are placed"


async def test_state_counts_winners_and_runners_by_sex_and_category(chase, paris):
    race, _, on_course = chase
    state = (await race.http.get("/api/state")).json()
    assert set(state["counts"]) == {"registered", "started", "ahead", "caught", "won", "dnf", "dq"}, "unchanged"
    by = state["counts_by"]
    assert by["sex"]["F"] == {"runners": sum(p.sex == "F" for p in paris.runners), "won": 2, "running": 0,
                              "quota": None}  # fmt: skip
    assert by["sex"]["M"]["won"] == 2 and by["sex"]["M"]["running"] == 1
    assert sum(c["won"] for c in by["category"].values()) == 4
    assert sum(c["runners"] for c in by["category"].values()) == len(paris.runners)
    assert (await race.http.get(f"/api/runners/{on_course.bib}")).json()["place"] is None


async def test_a_winner_has_his_places(chase):
    race, home, _ = chase
    body = (await race.http.get(f"/api/runners/{home[2][0].bib}")).json()
    assert body["status"] == "won" and body["sex"] == "F"
    assert (body["place"], body["place_sex"]) == (3, 2) and body["place_category"] in (1, 2)
    men = (await race.http.get("/api/runners", params={"sex": "M", "status": "won"})).json()
    assert sorted(r["bib"] for r in men["runners"]) == sorted([home[0][0].bib, home[3][0].bib])
