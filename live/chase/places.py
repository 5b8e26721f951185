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


def rank(
    key: np.ndarray,
    sex: np.ndarray,
    category: np.ndarray,
    tiebreak: np.ndarray | None = None,
) -> Places:
    """Places by ``key`` (smaller is better; nan: not placed), overall, within sex, and within sex and
    category. ``sex`` and ``category`` are labels per runner ("" where unknown)."""
    key = np.asarray(key, dtype=float)
    n = len(key)
    placed = ~np.isnan(key)
    second = np.zeros(n) if tiebreak is None else np.nan_to_num(np.asarray(tiebreak, dtype=float), nan=np.inf)
    order = np.lexsort((np.arange(n), second, np.where(placed, key, np.inf)))
    order = order[placed[order]]
    place = np.zeros(n, dtype=np.int64)
    place[order] = np.arange(1, len(order) + 1)
    sexes = np.asarray(sex, dtype=object)
    groups = np.array([f"{s}\x1f{c}" for s, c in zip(sexes.tolist(), np.asarray(category).tolist(), strict=True)],
                      dtype=object)  # fmt: skip
    known_sex = np.array([bool(s) for s in sexes.tolist()], dtype=bool)
    known_cat = known_sex & np.array([bool(c) for c in np.asarray(category).tolist()], dtype=bool)
    return Places(place, _within(order, sexes, known_sex), _within(order, groups, known_cat))


def _within(order: np.ndarray, labels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The rank of each placed runner (``order``: best first) among those of his label."""
    out = np.zeros(len(labels), dtype=np.int64)
    seen: dict[object, int] = {}
    for row in order.tolist():
        if known[row]:
            label = labels[row]
            seen[label] = seen.get(label, 0) + 1
            out[row] = seen[label]
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
