"""Places: a runner's rank overall, within his sex and within his category, by the race's outcome.

Pure functions on arrays over runners. What is ranked is the caller's ``key`` (smaller is better, nan:
not placed): a chase's winners by finish time, a race without a pursuer's finishers by gun time, a
catcher-car race by the distance at which the car passed (give ``-caught_at_m``).

Decisions (docs/ARCHITECTURE.md, "Places"):

- every place is distinct: equal keys are ordered by ``tiebreak`` (e.g. net time), then by roster
  order, as a results sheet needs one place per line;
- ``place_category`` is the place within the runner's sex *and* category: the J-1000's categories
  (Senior, Master) are the same labels for both sexes, and organisers (FFA, RACE RESULT age groups)
  rank categories per sex (SE-H, SE-F);
- a runner with no sex (or no category) has no place within it (0), though he keeps his overall place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

NOT_PLACED = 0


@dataclass(frozen=True)
class Places:
    """Places of every runner (int arrays over runners, 1-based; ``NOT_PLACED`` where none)."""

    place: np.ndarray
    place_sex: np.ndarray
    place_category: np.ndarray

    def of(self, row: int) -> tuple[int | None, int | None, int | None]:
        """One runner's places, None where he has none."""
        return tuple(int(a[row]) or None for a in (self.place, self.place_sex, self.place_category))  # type: ignore[return-value]


@dataclass(frozen=True)
class Groups:
    """The runners' groups for places, built once per race: a code per sex and per sex-and-category,
    and whether the runner has a sex (and a category) at all."""

    sex: np.ndarray  # int codes
    sex_category: np.ndarray  # int codes
    known_sex: np.ndarray  # bool
    known_category: np.ndarray  # bool: a sex and a category

    @classmethod
    def of(cls, sex: np.ndarray, category: np.ndarray) -> Groups:
        """From the labels per runner ("" where unknown)."""
        n = len(sex)
        sexes = np.asarray(sex).astype(str) if n else np.zeros(0, dtype=str)
        categories = np.asarray(category).astype(str) if n else np.zeros(0, dtype=str)
        both = np.char.add(np.char.add(sexes, "\x1f"), categories) if n else sexes
        known_sex = sexes != ""
        return cls(
            np.unique(sexes, return_inverse=True)[1].reshape(n),
            np.unique(both, return_inverse=True)[1].reshape(n),
            known_sex,
            known_sex & (categories != ""),
        )


def rank(key: np.ndarray, groups: Groups, tiebreak: np.ndarray | None = None) -> Places:
    """Places by ``key`` (smaller is better; nan: not placed), overall, within sex, and within sex and
    category; equal keys in ``tiebreak`` order (smaller first, nan last), then in roster order."""
    key = np.asarray(key, dtype=float)
    n = len(key)
    rows = np.flatnonzero(~np.isnan(key))  # only the placed are sorted: few of them early in a race
    if tiebreak is None:
        order = rows[np.argsort(key[rows], kind="stable")]
    else:
        second = np.nan_to_num(np.asarray(tiebreak, dtype=float)[rows], nan=np.inf)
        order = rows[np.lexsort((second, key[rows]))]  # lexsort is stable: roster order breaks what is left
    place = np.zeros(n, dtype=np.int64)
    place[order] = np.arange(1, len(order) + 1)
    return Places(
        place, _within(order, groups.sex, groups.known_sex), _within(order, groups.sex_category, groups.known_category)
    )


def listing_order(places: Places) -> np.ndarray:
    """The rows in results order: the placed by place, then the others in roster order."""
    n = len(places.place)
    return np.lexsort((np.arange(n), np.where(places.place > 0, places.place, np.iinfo(np.int64).max)))


def by_distance(distance_m: np.ndarray, ranked: np.ndarray, groups: Groups) -> Places:
    """Places by distance, further first (the catcher-car format), for the ``ranked`` runners."""
    return rank(np.where(ranked, -np.asarray(distance_m, dtype=float), np.nan), groups)


def _within(order: np.ndarray, codes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The rank of each placed runner (``order``: best first) among those of his group code, for the
    runners whose label is ``known``: a stable sort by group keeps the best first within each."""
    out = np.zeros(len(codes), dtype=np.int64)
    rows = order[known[order]]
    if not len(rows):
        return out
    g = codes[rows]
    by_group = np.argsort(g, kind="stable")
    sorted_g = g[by_group]
    starts = np.flatnonzero(np.r_[True, sorted_g[1:] != sorted_g[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(sorted_g)]))
    out[rows[by_group]] = np.arange(len(sorted_g)) - first + 1
    return out


def counts_by(
    sex: np.ndarray,
    category: np.ndarray,
    done: np.ndarray,
    running: np.ndarray,
    quotas: Mapping[str, Mapping[str, int]] | None = None,
    done_name: str = "won",
) -> dict[str, dict[str, dict[str, int | None]]]:
    """Per sex and per category label: runners, those ``done`` (winners, or finishers in a race without
    a pursuer: named ``done_name``) and those still ``running`` (bool arrays over runners), and the quota
    if the race sets one. Categories count by their label across both sexes, as ``[quotas] category.X``
    names them."""
    out: dict[str, dict[str, dict[str, int | None]]] = {}
    for group, labels in (("sex", np.asarray(sex, dtype=object)), ("category", np.asarray(category, dtype=object))):
        table: dict[str, dict[str, int | None]] = {}
        wanted = (quotas or {}).get(group, {})
        for label in _labels(labels.tolist()):
            mask = labels == label
            table[label] = {
                "runners": int(np.count_nonzero(mask)),
                done_name: int(np.count_nonzero(mask & done)),
                "running": int(np.count_nonzero(mask & running)),
                "quota": wanted.get(label),
            }
        out[group] = table
    return out


def _labels(values: Iterable[object]) -> list[str]:
    """The distinct labels, sorted; an unknown ("") one last."""
    distinct = {str(v) for v in values}
    return sorted(distinct - {""}) + ([""] if "" in distinct else [])
