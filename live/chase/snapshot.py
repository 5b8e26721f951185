"""The computed live state at one instant: every runner's position, status and numbers.

A :class:`Snapshot` is what the engine produces each tick and what the API, the feeds and the
dashboard read. Per-runner values are NumPy arrays aligned with :attr:`Snapshot.bibs`.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, field

import numpy as np
import orjson

# Runner statuses (SPEC §2), as small integers in the arrays and names on the wire; ``finished`` is a race
# without a pursuer's (a chase's finishers have won or been caught). New codes only ever go at the end.
STATUSES = ("registered", "started", "ahead", "caught", "won", "dnf", "dq", "finished")
REGISTERED, STARTED, AHEAD, CAUGHT, WON, DNF, DQ, FINISHED = range(len(STATUSES))


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
    # a catcher-car race: at each milestone, the expected count still running there ({at_m, expected,
    # low, high, passed}; passed 1: the car is past it and ``expected`` is the count); None otherwise
    milestones: list[dict[str, float]] | None = None


@dataclass(frozen=True)
class Snapshot:
    """The live state of a race at race time ``now`` (unix seconds)."""

    now: float
    elapsed_s: float  # since the first gun, 0 before it
    pursuer: PursuerState | None  # None: a race without a pursuer
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
    forecast: Forecast | None  # None: a race without a pursuer has no winners to forecast
    index: dict[str, int] = field(repr=False, default_factory=dict)  # bib -> row
    speed_m_s: np.ndarray | None = None  # projection speed, for extrapolating between ticks
    margin_class: np.ndarray | None = None  # uint8 codes into live.chase.chase.CLASSES
    win_probability: np.ndarray | None = None  # chance to finish before the pursuer, 0..1
    # a catcher-car race (live/engine/catcher.py): where the car passed him (nan: not yet), and for a
    # runner still out, the median and band (``forecast.level``) of where it will
    caught_at_m: np.ndarray | None = None
    caught_time: np.ndarray | None = None
    predicted_catch_m: np.ndarray | None = None
    catch_low_m: np.ndarray | None = None
    catch_high_m: np.ndarray | None = None

    def chase(self) -> tuple[PursuerState, Forecast]:
        """The pursuer's state and the forecast, which every race with a pursuer has (a chase, a
        catcher car); a ValueError for a race without one."""
        if self.pursuer is None or self.forecast is None:
            raise ValueError("a race without a pursuer has no pursuer state nor forecast")
        return self.pursuer, self.forecast

    def status_name(self, row: int) -> str:
        return STATUSES[int(self.status[row])]


# what ``encode`` carries of a snapshot, per runner; bibs, pens and the index are the race's own
_ARRAYS = (
    "status",
    "distance_m",
    "lat",
    "lon",
    "gap_m",
    "gap_s",
    "margin_s",
    "catch_at_m",
    "catch_in_s",
    "overdue",
    "speed_m_s",
    "margin_class",
    "win_probability",
    "caught_at_m",
    "caught_time",
    "predicted_catch_m",
    "catch_low_m",
    "catch_high_m",
)


def encode(snap: Snapshot, seq: int = 0, tick_ms: float = 0.0) -> bytes:
    """A snapshot (the state at live-feed ``seq``) as bytes for the processes that relay the engine
    leader's ticks (``decode``): its scalars as JSON, then its per-runner arrays as they are in memory."""
    arrays = [(name, np.ascontiguousarray(a)) for name in _ARRAYS if (a := getattr(snap, name)) is not None]
    head = orjson.dumps(
        {
            "now": snap.now,
            "elapsed_s": snap.elapsed_s,
            "counts": snap.counts,
            "seq": seq,
            "tick_ms": tick_ms,
            "pursuer": asdict(snap.pursuer) if snap.pursuer else None,
            "forecast": asdict(snap.forecast) if snap.forecast else None,
            "arrays": [[name, a.dtype.str, len(a)] for name, a in arrays],
        }
    )
    return b"".join([struct.pack("<I", len(head)), head, *(a.tobytes() for _, a in arrays)])


def decode(blob: bytes, bibs: np.ndarray, pens: np.ndarray, index: dict[str, int]) -> tuple[Snapshot, int, float]:
    """The snapshot ``encode`` wrote, for the race whose runners are ``bibs``, ``pens`` and ``index``
    (in the leader's order), its seq and the leader's tick time in ms; ``ValueError`` if it is not one."""
    try:
        (size,) = struct.unpack_from("<I", blob)
        head = orjson.loads(blob[4 : 4 + size])
        offset, arrays = 4 + size, {}
        for name, dtype, n in head["arrays"]:
            if name not in _ARRAYS or n != len(bibs):
                raise ValueError(f"array {name!r} of {n} runners in a race of {len(bibs)}")
            a = np.frombuffer(blob, dtype=np.dtype(dtype), count=n, offset=offset)
            arrays[name] = a.copy()  # writable, like the engine's own
            offset += a.nbytes
        pursuer = PursuerState(**head["pursuer"]) if head["pursuer"] is not None else None
        forecast = Forecast(**head["forecast"]) if head["forecast"] is not None else None
        snap = Snapshot(
            now=head["now"],
            elapsed_s=head["elapsed_s"],
            pursuer=pursuer,
            bibs=bibs,
            pens=pens,
            counts=head["counts"],
            forecast=forecast,
            index=index,
            **arrays,
        )
    except (struct.error, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not an encoded snapshot: {exc!r}") from exc
    return snap, int(head.get("seq", 0)), float(head.get("tick_ms", 0.0))
