"""The world leaderboard against the simulator's truth: the world end-to-end test and the cluster
rehearsal (``tests/scale/test_rehearsal_cluster.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

CATCH_TOLERANCE_M = 20.0  # a catch is interpolated between mats: within 20 m of the truth (issue 23)
WorldTruth = dict[tuple[str, str], float]  # (race, bib) -> where the car truly passed the runner (m)


def world_truth(caught_at_m: Mapping[str, Mapping[str, float]]) -> WorldTruth:
    """The truth of every race (race -> bib -> true catch distance) keyed by (race, bib)."""
    return {(race, bib): m for race, by_bib in caught_at_m.items() for bib, m in by_bib.items()}


def assert_ranked_as_truth(board: list[dict[str, Any]], place: str, truth: WorldTruth) -> None:
    """``board`` ranks as the truth does, up to catches closer than the tolerance, and its ``place``
    column counts 1, 2, 3…: ranked by distance, and no runner placed above one the car truly passed
    2 × the tolerance further on (among the runners placed within the tolerance: the 1 % beyond it aside)."""
    tolerance = CATCH_TOLERANCE_M
    assert [r[place] for r in board] == list(range(1, len(board) + 1)), place
    shown = [float(r["distance_m"]) for r in board]
    assert shown == sorted(shown, reverse=True)
    true = np.array([truth[r["race"], r["bib"]] for r in board])
    close = np.abs(np.array(shown) - true) <= tolerance
    above = np.triu(np.ones((len(true), len(true)), dtype=bool), 1)  # i placed above j
    wrong = above & (true[:, None] < true[None, :] - 2 * tolerance) & close[:, None] & close[None, :]
    assert not wrong.any(), [(board[i]["bib"], board[j]["bib"]) for i, j in zip(*np.nonzero(wrong), strict=True)]


def assert_world_board_is_the_truth(
    rows: list[dict[str, Any]], truth: WorldTruth, sex: Mapping[tuple[str, str], str]
) -> None:
    """The whole world leaderboard (``rows``, every page) against the truth: every runner of every race
    once, 99 % of catches within the tolerance, ranked as the truth overall and per sex (``sex``: (race,
    bib) -> M/F), the world champions — the last man and the last woman caught anywhere — first."""
    assert {(r["race"], r["bib"]) for r in rows} == set(truth), "every runner of every location, once"
    error = np.array([abs(r["caught_at_m"] - truth[r["race"], r["bib"]]) for r in rows])
    assert np.mean(error <= CATCH_TOLERANCE_M) >= 0.99, f"errors p50/p99/max {np.percentile(error, [50, 99, 100])}"
    print(f"catch distance errors p50/p99/max {np.percentile(error, [50, 99, 100]).round(1)} m")
    assert_ranked_as_truth(rows, "place", truth)
    for s in ("M", "F"):
        mine = [r for r in rows if sex[r["race"], r["bib"]] == s]
        assert_ranked_as_truth(mine, "place_sex", truth)
        best = max((k for k in truth if sex[k] == s), key=truth.__getitem__)
        first = (mine[0]["race"], mine[0]["bib"])
        assert first == best or truth[best] - truth[first] < 2 * CATCH_TOLERANCE_M
