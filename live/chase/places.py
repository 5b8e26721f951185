"""Places by distance (the catcher-car format): overall, within sex and within category.

A pure function of the results: the integrator unifies it with the finish-time ranking of plain and
chase races (issue 23, part 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Places:
    """Per runner: the order to list them in, and place overall, in his sex and in his category (0: none)."""

    order: np.ndarray
    place: np.ndarray
    place_sex: np.ndarray
    place_category: np.ndarray


def places_by_distance(distance_m: np.ndarray, ranked: np.ndarray, sex: np.ndarray, category: np.ndarray) -> Places:
    """Rank the ``ranked`` runners by ``distance_m`` (further first; ties share a place, as results
    do); the others get no place and come after them, in their given order. ``sex`` and ``category``:
    each runner's (an empty one gets no place within it)."""
    n = len(distance_m)
    key = np.where(ranked, -np.nan_to_num(distance_m, nan=0.0), np.inf)
    order = np.lexsort((np.arange(n), key))
    place = np.zeros(n, dtype=int)
    place_sex = np.zeros(n, dtype=int)
    place_category = np.zeros(n, dtype=int)
    rank_of = _shared_ranks(key[order])
    place[order] = np.where(ranked[order], rank_of, 0)
    for out, groups in ((place_sex, sex), (place_category, category)):
        for g in set(groups.tolist()):
            if not g:
                continue
            rows = order[(groups[order] == g) & ranked[order]]
            out[rows] = _shared_ranks(key[rows])
    return Places(order, place, place_sex, place_category)


def _shared_ranks(sorted_keys: np.ndarray) -> np.ndarray:
    """1-based ranks of keys already sorted, equal keys sharing the first's rank (1, 2, 2, 4)."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=int)
    new = np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]])
    positions = np.arange(1, len(sorted_keys) + 1)
    out: np.ndarray = np.maximum.accumulate(np.where(new, positions, 0))
    return out
