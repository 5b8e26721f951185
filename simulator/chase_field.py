"""A results file's runners as a chase: who, their splits, the pursuer and his delay, and the
constants of the race a replay builds from them (``simulator/results.py`` says what a replay is)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from live.forecast.results import Results, skip_report

TIMEZONE = "Europe/Berlin"
BERLIN_2017_GUN = datetime(2017, 9, 24, 9, 15, tzinfo=ZoneInfo(TIMEZONE))  # the race's first wave
READS_PER_CROSSING = 2
READ_OFFSETS_S = (0.0, 0.35, 0.8, 1.3)  # the raw reads of one crossing, after the first (exact) one
COURSE_CENTRE = (52.5145, 13.3501)  # lat, lon: the Großer Stern in the Tiergarten
COURSE_POINTS = 720
START_MAT = "start"
PEN = "field"
MAX_SPAN_S = 11 * 3600.0  # a time-of-day read resolves to the date nearest the race clock: < 12 h


class ReplayError(ValueError):
    """A chase that cannot be built from the results: says what to change."""


@dataclass(frozen=True)
class ChaseField:
    """The runners of a results file as a chase: who, their splits, the pursuer and his delay."""

    bibs: np.ndarray  # str, unique
    sex: np.ndarray  # str
    split_names: tuple[str, ...]
    at_m: np.ndarray  # distance of each split column
    elapsed_s: np.ndarray  # (runners, splits) from the runner's own start; nan where no mat read him
    pursuer_row: int
    delay_s: float
    notes: tuple[str, ...] = ()

    @property
    def pursuer_bib(self) -> str:
        return str(self.bibs[self.pursuer_row])

    @property
    def runners(self) -> int:
        """Runners chasing (the pursuer not counted)."""
        return len(self.bibs) - 1

    def start_offsets_s(self) -> np.ndarray:
        """Each row's start after the first gun: 0, and the delay for the pursuer."""
        offsets = np.zeros(len(self.bibs))
        offsets[self.pursuer_row] = self.delay_s
        return offsets

    @property
    def span_s(self) -> float:
        """From the first gun to the last read (the slowest finish, or the pursuer's)."""
        return float(np.nanmax(self.elapsed_s + self.start_offsets_s()[:, None]))

    def true_winners(self) -> set[str]:
        """Bibs whose finish is strictly earlier than the pursuer's (SPEC §2, the outcome rule)."""
        finish = self.elapsed_s[:, -1] + self.start_offsets_s()
        won = finish < finish[self.pursuer_row]
        won[self.pursuer_row] = False
        return {str(b) for b in self.bibs[won]}


def chase_field(
    results: Results, pursuer_bib: str, delay_s: float, runners: int | None = None, wire: bool = True
) -> ChaseField:
    """The chase of ``results``: bib ``pursuer_bib`` starts ``delay_s`` after the field.

    ``runners`` keeps that many runners (plus the pursuer), spread evenly over the field's finish
    times, so a slice is a small copy of the whole race. ``wire``: the chase is to be played as
    reader traffic, whose times of day bound its length.
    """
    if delay_s < 0:
        raise ReplayError(f"--delay must be 0 or more seconds, got {delay_s:g}")
    bibs = _unique_bibs(results.bibs)
    notes = []
    renamed = int((bibs != results.bibs.astype(str)).sum())
    if renamed:
        notes.append(f"{renamed} bib(s) listed twice in the results: the second row of each gets '-2'")
    elapsed = results.elapsed_s.copy()
    zeros = int((elapsed <= 0).sum())
    if zeros:
        notes.append(f"{zeros} split(s) of 0 s in the results are read as missed splits")
    elapsed[elapsed <= 0] = np.nan
    rows = np.flatnonzero(bibs == pursuer_bib)
    if len(rows) == 0:
        raise ReplayError(f"bib {pursuer_bib!r} (the pursuer) is not among the finishers of the results")
    p = int(rows[0])
    if np.isnan(elapsed[p, -1]):
        raise ReplayError(f"bib {pursuer_bib!r} (the pursuer) is not among the finishers of the results (no finish)")
    notes += skip_report(results)
    keep = np.arange(len(bibs))
    if runners is not None:
        if runners < 1:
            raise ReplayError(f"--runners must be at least 1, got {runners}")
        others = np.flatnonzero(keep != p)
        order = others[np.argsort(elapsed[others, -1], kind="stable")]
        if runners < len(order):
            order = order[np.linspace(0, len(order) - 1, runners).round().astype(int)]
        keep = np.sort(np.append(order, p))
    span = float(np.nanmax(elapsed[keep] + np.where(keep == p, delay_s, 0.0)[:, None]))
    if wire and span > MAX_SPAN_S:
        raise ReplayError(
            f"the replay would last {span / 3600:.1f} h from the first gun; ChronoTrack sends times of day, "
            f"which resolve only within 12 h: choose a shorter --delay"
        )
    return ChaseField(
        bibs=bibs[keep],
        sex=results.sex[keep].astype(str),
        split_names=results.split_names,
        at_m=results.at_m.copy(),
        elapsed_s=elapsed[keep],
        pursuer_row=int(np.flatnonzero(keep == p)[0]),
        delay_s=float(delay_s),
        notes=tuple(notes),
    )


def _unique_bibs(bibs: np.ndarray) -> np.ndarray:
    seen: dict[str, int] = {}
    out = []
    for bib in bibs.astype(str):
        n = seen.get(bib, 0) + 1
        seen[bib] = n
        out.append(bib if n == 1 else f"{bib}-{n}")
    return np.array(out, dtype=object)
