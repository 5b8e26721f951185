"""The live state as a function of (race, passings, now, model): :class:`Tick`. It keeps what it
computed last time and recomputes only what moved — the plausibility rules for the runners with a new
passing, the forecast for the runners whose inputs moved (:class:`live.forecast.win_rows.ForecastRows`)
— and gives what a tick from scratch gives (tests/live/test_incremental_tick.py). The engine
(:mod:`live.engine.engine`) loads the passings from Redis and runs it once a second under its lease.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.chase.chase import ChaseResult, evaluate, probability_classes, pursuer_position
from live.chase.projection import Reads, plausible_reads
from live.chase.snapshot import AHEAD, CAUGHT, DNF, DQ, STARTED, STATUSES, WON, Forecast, PursuerState, Snapshot
from live.chase.timed import evaluate_timed
from live.engine.catcher import catcher_tick
from live.engine.plain import plain_snapshot
from live.forecast.distributions import WinForecast
from live.forecast.forecast import pursuer_forecast
from live.forecast.model import ForecastModel
from live.forecast.win_rows import ForecastRows
from live.race.race import Participant, Pursuer, Race


@dataclass(frozen=True)
class Passings:
    """What a tick reads: every runner's passings (runners, timing points; nan: none), the pursuer's,
    the guns fired, the pursuer's last GPS fix (lat, lon, t) and the statuses set by hand (DNF, DQ)."""

    times: np.ndarray
    pursuer_times: np.ndarray
    guns: dict[str, float]
    gps: tuple[float, float, float] | None
    manual_status: np.ndarray


@dataclass(frozen=True)
class Used:
    """The passings the chase uses: after the plausibility rules (SPEC §2, §5)."""

    reads: Reads
    flagged: np.ndarray  # (runners, timing points): the passings ignored as impossible
    pursuer_times: np.ndarray
    new_reads: np.ndarray  # bool per runner: whose passings changed since the last tick


class Tick:
    """The live state of one race at any moment from its passings (see the module's docstring).
    ``incremental=False``: every tick from scratch (the reference the incremental one is tested by)."""

    def __init__(self, race: Race, model: ForecastModel, incremental: bool = True) -> None:
        self.race, self.model, self.incremental = race, model, incremental
        runners = list(race.runners)
        self.bibs = np.array([p.bib for p in runners], dtype=object)
        self.pens = np.array([p.pen for p in runners], dtype=object)
        self.row = {p.bib: i for i, p in enumerate(runners)}
        self.at_m = np.array([tp.at_m for tp in race.timing_points], dtype=float)
        self.mat_of_tp = [tp.mat for tp in race.timing_points]
        self.prior_m_s = self._prior_speeds(runners)
        self.pen_gun_index = {p.id: i for i, p in enumerate(race.pens)}
        self.runner_pen_index = np.array([self.pen_gun_index[p.pen] for p in runners], dtype=int)
        self.pen_sizes = np.bincount(self.runner_pen_index, minlength=len(race.pens))
        self.rows = ForecastRows(model, self.at_m, self.runner_pen_index, len(race.pens))
        self.guns: dict[str, float] = {}
        self.gps: tuple[float, float, float] | None = None
        self.manual_status = np.zeros(len(runners), dtype=np.int8)
        self.classes: np.ndarray | None = None
        self._raw: np.ndarray | None = None  # the passings the last tick read, by timing point
        self._places = (np.zeros(0), np.zeros(0), np.zeros(0))  # the last distances, and their lon, lat
        none = np.full((len(runners), len(self.at_m)), np.nan)
        self.used = Used(Reads.of(none), np.isfinite(none), none[0], np.ones(len(runners), dtype=bool))

    def _on_map(self, distance_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where every runner is on the map: placed again only where his distance moved (bit for bit)."""
        last, lon, lat = self._places
        if not self.incremental or len(last) != len(distance_m):
            lon, lat = self.race.course.lonlat_at(distance_m)
        else:
            moved = np.flatnonzero(distance_m.view(np.int64) != last.view(np.int64))
            lon, lat = lon.copy(), lat.copy()  # the last snapshot's stay as they were
            lon[moved], lat[moved] = self.race.course.lonlat_at(distance_m[moved])
        self._places = (distance_m.copy(), lon, lat)
        return lon, lat

    def use_passings(self, passings: Passings) -> None:
        """:attr:`used` from ``passings``: the rules run again only for the runners whose passings changed
        since the last tick (a passing compared bit for bit), every runner's are independent."""
        speed = self.race.max_speed_m_s
        times = passings.times
        pursuer, _ = plausible_reads(passings.pursuer_times[:, None], self.at_m, self.mat_of_tp, speed)
        raw = self._raw
        if not self.incremental or raw is None or raw.shape != times.shape:
            reads, flagged = plausible_reads(times.T, self.at_m, self.mat_of_tp, speed)
            self._raw = np.array(times, dtype=float, order="F")
            self.used = Used(reads, flagged.T, pursuer.columns[:, 0], np.ones(len(times), dtype=bool))
            return
        changed = np.zeros(len(times), dtype=bool)
        for j in range(times.shape[1]):  # bit for bit: a nan is a nan, a new read is not
            changed |= np.asarray(times[:, j], dtype=float).view(np.int64) != raw[:, j].view(np.int64)
        rows = np.flatnonzero(changed)
        old = self.used.reads
        if len(rows):
            part, flagged_part = plausible_reads(times[rows].T, self.at_m, self.mat_of_tp, speed)
            columns = old.columns.copy()
            columns[:, rows] = part.columns
            fields = {}
            for name in ("last", "prev", "first", "t_last", "t_prev", "t_first"):
                fields[name] = getattr(old, name).copy()
                fields[name][rows] = getattr(part, name)
            reads = Reads(columns, **fields)
            flagged = self.used.flagged.copy()
            flagged[rows] = flagged_part.T
            raw[rows] = times[rows]
        else:
            reads, flagged = old, self.used.flagged
        self.used = Used(reads, flagged, pursuer.columns[:, 0], changed)

    def _prior_speeds(self, runners: list[Participant]) -> np.ndarray:
        """Speed before any split: the declared time, else the median declared time of the pen."""
        distance = self.race.declared_distance_m
        declared = np.array([p.declared_s if p.declared_s else np.nan for p in runners], dtype=float)
        pens = np.array([p.pen for p in runners], dtype=object)
        for pen in set(pens):
            mask = pens == pen
            median = np.nanmedian(declared[mask]) if np.any(~np.isnan(declared[mask])) else distance / 2.5
            declared[mask & np.isnan(declared)] = median
        return distance / declared

    def pen_starts(self, pursuer_start: float | None) -> np.ndarray:
        """Each pen's gun, else its start implied by the pursuer's expected start and its head start,
        else (a race without a pursuer) its planned start."""
        return np.array(
            [
                self.guns[f"pen:{p.id}"]
                if f"pen:{p.id}" in self.guns
                else pursuer_start - p.head_start_s
                if pursuer_start is not None and p.head_start_s is not None
                else p.planned_start.timestamp()
                for p in self.race.pens
            ],
            dtype=float,
        )

    def compute(self, passings: Passings, now: float, previous_classes: np.ndarray | None = None) -> Snapshot:
        """The live state at race time ``now`` from ``passings``; ``previous_classes``: the last
        tick's classes (a runner near a threshold keeps his). What the passings say is kept in
        :attr:`used` (the passings after the plausibility rules)."""
        race = self.race
        self.guns, self.gps, self.manual_status = passings.guns, passings.gps, passings.manual_status
        self.classes = previous_classes
        self.use_passings(passings)
        if race.pursuer is None:
            return self._compute_timed(now)
        pursuer_speed = 1000.0 / race.pursuer.pace_s_per_km
        pursuer_start = self.expected_pursuer_start()
        pen_starts = self.pen_starts(pursuer_start)
        reads, pursuer_times = self.used.reads, self.used.pursuer_times
        pursuer = pursuer_position(
            pursuer_times,
            self.at_m,
            pursuer_speed,
            self.guns.get("pursuer"),
            pursuer_start,
            now,
            race.pursuer.schedule,
            self.gps_on_course(pursuer_start, pursuer_speed, now),
        )
        runner_starts = pen_starts[self.runner_pen_index]
        result = evaluate(
            reads, self.at_m, self.prior_m_s, pursuer_times, pursuer, now, runner_starts, self.manual_status
        )
        catcher = None
        if race.by_distance:  # the catcher-car format: caught where the car passed him, nobody wins
            car = (self.guns.get("pursuer"), pursuer_start, pursuer_times)  # its gun, planned start, reads
            catcher = catcher_tick(race, self.model, reads, self.at_m, result, runner_starts, self.prior_m_s, *car, now)
            result, win = catcher.result, catcher.win
        else:
            win = self.win_forecast(reads, pursuer_times, runner_starts, pursuer_start, result, now)
        # margins: pursuer's median finish - runner's median finish; settled runners keep the chase's
        decided = np.isnan(win.predicted_finish) | (pursuer.finish is not None)
        margin = np.where(decided, result.margin_s, win.pursuer.median - win.predicted_finish)
        if catcher is None:
            classes = probability_classes(result.status, win.win_probability, self.classes)
        else:
            classes = catcher.classes
        self.classes = classes
        lon, lat = self._on_map(result.distance_m)
        p_lon, p_lat = race.course.lonlat_at(max(pursuer.distance_m, 0.0))
        won_by_pen = np.bincount(self.runner_pen_index[result.status == WON], minlength=len(race.pens))
        by_pen = {}
        for g, pen in enumerate(race.pens):
            expected, low, high = win.by_group[g]
            by_pen[pen.id] = {
                "runners": int(self.pen_sizes[g]),
                "won": int(won_by_pen[g]),
                "winners": round(float(expected)),
                "low": int(low),
                "high": int(high),
            }
        by_status = np.bincount(result.status, minlength=len(STATUSES))
        counts = {
            "registered": int(len(self.bibs)),
            # read anywhere: the plausibility rules move reads but never drop a runner's first
            "started": int(np.count_nonzero(reads.last >= 0)),
            "ahead": int(by_status[AHEAD]),
            "caught": int(by_status[CAUGHT]),
            "won": int(by_status[WON]),
            "dnf": int(by_status[DNF]),
            "dq": int(by_status[DQ]),
        }
        if catcher is not None:
            counts["running"] = int(by_status[AHEAD] + by_status[STARTED])
        first_gun = min(self.guns.values()) if self.guns else None
        return Snapshot(
            now=now,
            elapsed_s=max(0.0, now - first_gun) if first_gun is not None else 0.0,
            pursuer=PursuerState(
                bib=race.pursuer.bib,
                status=pursuer.status,
                distance_m=max(pursuer.distance_m, 0.0),
                lat=float(p_lat),
                lon=float(p_lon),
                pace_s_per_km=1000.0 / pursuer.speed_m_s,
                start=self.guns.get("pursuer"),
                finish=pursuer.finish,
            ),
            bibs=self.bibs,
            pens=self.pens,
            status=result.status,
            distance_m=result.distance_m,
            lat=lat,
            lon=lon,
            gap_m=result.gap_m,
            gap_s=result.gap_s,
            margin_s=margin,
            catch_at_m=result.catch_at_m,
            catch_in_s=result.catch_in_s,
            overdue=result.overdue,
            counts=counts,
            forecast=Forecast(
                winners=round(win.expected),
                low=win.low,
                high=win.high,
                quota=race.quota,
                by_pen=by_pen,
                level=win.coverage,
                at_plan=round(win.at_plan),
                pursuer_finish=win.pursuer.median,
                pursuer_low=win.pursuer.low,
                pursuer_high=win.pursuer.high,
                pursuer_basis=win.pursuer.basis,
                milestones=catcher.milestones() if catcher is not None else None,
            ),
            index=self.row,
            speed_m_s=result.speed_m_s,
            margin_class=classes,
            win_probability=win.win_probability,
            **({} if catcher is None else catcher.arrays()),
        )

    def _compute_timed(self, now: float) -> Snapshot:
        """The live state of a race without a pursuer (``live.engine.plain``)."""
        reads = self.used.reads
        starts = self.pen_starts(None)[self.runner_pen_index]
        result = evaluate_timed(reads, self.at_m, self.prior_m_s, now, starts, self.manual_status)
        first_gun = min(self.guns.values()) if self.guns else None
        snap = plain_snapshot(self.race, now, first_gun, self.bibs, self.pens, self.row, reads, result)
        self.classes = snap.margin_class
        return snap

    def win_forecast(
        self,
        reads: Reads,
        pursuer_times: np.ndarray,
        runner_starts: np.ndarray,
        pursuer_start: float,
        chase: ChaseResult,
        now: float,
    ) -> WinForecast:
        """Every runner's chance to beat the pursuer, from the passings the chase uses (SPEC §3)."""
        race = self.race
        pursuer = self._pursuer()
        status, confirmed, last = chase.status, chase.confirmed, chase.last_tp
        columns = reads.columns
        start_col = self.at_m <= 0.0
        # a runner's own start: his start-mat read, else his pen's gun (or its planned start)
        start_cols = np.flatnonzero(start_col)
        n = columns.shape[1]
        read_start = np.fmin.reduce(columns[start_cols], axis=0) if len(start_cols) else np.full(n, np.nan)
        starts = np.where(np.isnan(read_start), runner_starts, read_start)
        elapsed = (columns - starts).T  # (runners, points), column-major: the forecast reads it by point
        since = np.where(last >= 0, now - reads.t_last, 0.0)
        settled = np.full(len(status), np.nan)
        settled[status == WON] = 1.0
        settled[(status == CAUGHT) & confirmed] = 0.0
        settled[(status == DNF) | (status == DQ)] = 0.0
        gun = self.guns.get("pursuer", pursuer_start)
        if pursuer.schedule is not None:
            planned_s = float(pursuer.schedule.elapsed_at(race.distance_m))
        else:
            planned_s = race.distance_m * pursuer.pace_s_per_km / 1000.0
        p_elapsed = pursuer_times - gun
        p_elapsed[start_col] = np.nan
        pf = pursuer_forecast(self.model, p_elapsed, self.at_m, gun, planned_s, now)
        if pf.basis == "finished":
            settled[np.isnan(settled)] = 0.0
        new_reads = self.used.new_reads if self.incremental else None
        prior = race.distance_m / self.prior_m_s
        return self.rows.update(elapsed, starts, since, prior, settled, pf, last, new_reads)

    def gps_on_course(self, start: float, speed_m_s: float, now: float) -> tuple[float, float] | None:
        """The pursuer's GPS fix as (distance along the course, time), if any and not from the future."""
        if self.gps is None or self.gps[2] > now:
            return None
        lat, lon, t = self.gps
        expected_m = max(0.0, min(speed_m_s * (t - start), self.race.distance_m))
        return self.race.course.locate(lat, lon, near_m=expected_m), t

    def _pursuer(self) -> Pursuer:
        """The race's pursuer (the chase's computations are never reached in a race without one)."""
        if self.race.pursuer is None:
            raise ValueError(f"race {self.race.id!r} has no pursuer")
        return self.race.pursuer

    def expected_pursuer_start(self) -> float:
        """The pursuer's gun if fired; else implied by the pens already released and their head starts."""
        if "pursuer" in self.guns:
            return self.guns["pursuer"]
        implied = [
            self.guns[f"pen:{p.id}"] + p.head_start_s
            for p in self.race.pens
            if f"pen:{p.id}" in self.guns and p.head_start_s is not None
        ]
        return max(implied) if implied else self._pursuer().planned_start.timestamp()
