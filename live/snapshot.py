"""The computed live state at one instant: every runner's position, status and numbers.

A :class:`Snapshot` is what the engine produces each tick and what the API, the feeds and the
dashboard read. Per-runner values are NumPy arrays aligned with :attr:`Snapshot.bibs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Runner statuses (SPEC §2), as small integers in the arrays and names on the wire.
STATUSES = ("registered", "started", "ahead", "caught", "won", "dnf", "dq")
REGISTERED, STARTED, AHEAD, CAUGHT, WON, DNF, DQ = range(len(STATUSES))


@dataclass(frozen=True)
class PursuerState:
    """Where the pursuer is and how fast he goes."""

    bib: str
    status: str  # waiting | running | finished
    distance_m: float
    lat: float
    lon: float
    pace_s_per_km: float
    start: float | None  # unix time of his gun, if known
    finish: float | None  # unix time of his finish passing, if read


@dataclass(frozen=True)
class Forecast:
    """Expected number of winners (the sum of the win probabilities) with a band of stated coverage
    ``level``, overall and per pen, against the quota; and what it assumes of the pursuer."""

    winners: int
    low: int
    high: int
    quota: int | None
    by_pen: dict[str, dict[str, int]]
    level: float = 0.8
    at_plan: int | None = None  # winners if the pursuer holds his planned pace
    pursuer_finish: float | None = None  # his median predicted finish (unix)
    pursuer_low: float | None = None  # the band (level) of his finish
    pursuer_high: float | None = None
    pursuer_basis: str = "plan"  # plan | splits | finished: what his forecast rests on


@dataclass(frozen=True)
class Snapshot:
    """The live state of a race at race time ``now`` (unix seconds)."""

    now: float
    elapsed_s: float  # since the first gun, 0 before it
    pursuer: PursuerState
    bibs: np.ndarray  # str, the runners (the pursuer excluded)
    pens: np.ndarray  # str
    status: np.ndarray  # int8 codes into STATUSES
    distance_m: np.ndarray  # float, projected position along the course
    lat: np.ndarray
    lon: np.ndarray
    gap_m: np.ndarray  # runner − pursuer; positive: ahead
    gap_s: np.ndarray  # time the pursuer needs to reach the runner's position; nan if not ahead
    margin_s: np.ndarray  # predicted finish margin over the pursuer; positive: predicted to win
    catch_at_m: np.ndarray  # where the projected trajectories meet; nan if they do not
    catch_in_s: np.ndarray  # in how many seconds; nan if they do not
    overdue: np.ndarray  # bool: expected at the next mat, late by a margin
    counts: dict[str, int]
    forecast: Forecast
    index: dict[str, int] = field(repr=False, default_factory=dict)  # bib -> row
    speed_m_s: np.ndarray | None = None  # projection speed, for extrapolating between ticks
    margin_class: np.ndarray | None = None  # uint8 codes into live.chase.CLASSES
    win_probability: np.ndarray | None = None  # chance to finish before the pursuer, 0..1

    def status_name(self, row: int) -> str:
        return STATUSES[int(self.status[row])]
