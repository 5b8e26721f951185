"""The live engine: tails the passings in Redis and computes a :class:`Snapshot` every tick."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

import numpy as np

from live.chase.chase import ChaseResult, evaluate, probability_classes, pursuer_position
from live.chase.places import Groups, Places
from live.chase.projection import Reads, plausible_reads
from live.chase.snapshot import AHEAD, CAUGHT, DNF, DQ, STARTED, STATUSES, WON, Forecast, PursuerState, Snapshot
from live.chase.timed import evaluate_timed
from live.clock import RaceClock
from live.engine.catcher import catcher_tick
from live.engine.plain import plain_snapshot
from live.engine.standings import standings
from live.forecast.forecast import WinForecast, forecast, pursuer_forecast
from live.forecast.model import ForecastModel, default_model
from live.race.race import Participant, Pursuer, Race
from live.store.leader import STANDBY_POLL_S, Lease
from live.store.store import REDIS_UNAVAILABLE, Store

log = logging.getLogger(__name__)

TICK_S = 1.0
HISTORY_STEP_S = 10.0  # the forecast's history keeps a point every 10 s of race time…
HISTORY_POINTS = 4320  # …for 12 hours at most


class LiveEngine:
    """In-memory projection state of one race, rebuilt from Redis at start and kept current."""

    def __init__(self, race: Race, store: Store | None, model: ForecastModel | None = None) -> None:
        self.race = race
        self.store = store  # None: driven by hand (``pursuit evaluate`` sets the passings and calls compute)
        self.model = model or default_model()
        runners = list(race.runners)
        self.bibs = np.array([p.bib for p in runners], dtype=object)
        self.pens = np.array([p.pen for p in runners], dtype=object)
        self.sexes = np.array([p.sex for p in runners], dtype=object)
        self.categories = np.array([p.category for p in runners], dtype=object)
        self.groups = Groups.of(self.sexes, self.categories)  # for places, once
        self._places: tuple[Snapshot, Places] | None = None
        self.row = {p.bib: i for i, p in enumerate(runners)}
        self.at_m = np.array([tp.at_m for tp in race.timing_points], dtype=float)
        self.mat_of_tp = [tp.mat for tp in race.timing_points]
        # by timing point in memory (column-major): each tick reads the passings point by point
        self.times = np.full((len(runners), len(self.at_m)), np.nan, order="F")
        self.pursuer_times = np.full(len(self.at_m), np.nan)
        self.manual_status = np.zeros(len(runners), dtype=np.int8)
        self.prior_m_s = self._prior_speeds(runners)
        self.pen_gun_index = {p.id: i for i, p in enumerate(race.pens)}
        self.runner_pen_index = np.array([self.pen_gun_index[p.pen] for p in runners], dtype=int)
        self.pen_sizes = np.bincount(self.runner_pen_index, minlength=len(race.pens))
        self.guns: dict[str, float] = {}
        self.gps: tuple[float, float, float] | None = None  # lat, lon, t of the pursuer's last fix
        self.last_id = "0-0"
        self.last_tp = np.full(len(runners), -1)
        self.flagged = np.zeros_like(self.times, dtype=bool)  # passings the engine ignores as impossible
        self.used_times = self.times  # the passings after the plausibility rules (what the chase uses)
        self.used_pursuer_times = self.pursuer_times
        self.used_last = self.last_tp  # each runner's last timing point in ``used_times``
        self.snapshot: Snapshot | None = None
        self.classes: np.ndarray | None = None  # last computed classes (they hold near a threshold)
        self.tick_ms = 0.0
        self.last_tick_wall = 0.0
        self.listeners: list[Callable[[Snapshot], Awaitable[None]]] = []  # called after every tick
        self.lease: Lease | None = None  # None: this engine always computes (one process, or by hand)
        self.redis_failing_since: float | None = None  # wall time of the first tick Redis failed, while it does
        # (race time, forecast, band low, band high, count at the pursuer's plan), for race control's chart;
        # a catcher-car race's: (race time, still running, the same twice, None)
        self.forecast_history: deque[tuple[float, int, int, int, int | None]] = deque(maxlen=HISTORY_POINTS)

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

    async def refresh(self) -> Snapshot:
        """Read new passings, guns and the clock from Redis, then compute the snapshot (the engine
        leader's tick; a relay's engine only reads, :meth:`mirror` gives it the leader's snapshot)."""
        clock = await self.load()
        if self.lease is not None and not self.lease.held:  # what an action just wrote shows in the API
            if self.snapshot is None:  # until the leader's first frame
                self.snapshot = self.compute(clock.now())
            else:
                self._use_passings()
            return self.snapshot
        started = time.perf_counter()
        self.snapshot = self.compute(clock.now())
        self._record_forecast(self.snapshot)
        self.last_tp = self.used_last
        self.tick_ms = (time.perf_counter() - started) * 1000
        self.last_tick_wall = time.time()
        for listener in self.listeners:
            try:
                await listener(self.snapshot)
            except Exception:  # one broken listener must not stop the tick
                log.exception("tick listener %r failed", listener)
        return self.snapshot

    def mirror(self, snap: Snapshot, tick_ms: float) -> None:
        """Take the engine leader's snapshot as this process's own (a relay: the API, the dashboard and
        followed runners then show the leader's numbers), with the passings this process read."""
        self._use_passings()
        self.snapshot = snap
        self.classes = snap.margin_class
        self._record_forecast(snap)
        self.last_tp = self.used_last
        self.tick_ms = tick_ms
        self.last_tick_wall = time.time()

    def _use_passings(self) -> tuple[Reads, Reads]:
        """The passings the chase uses, from those read: the runners' and the pursuer's reads after
        the plausibility rules, kept as ``used_times``, ``flagged``, ``used_pursuer_times``."""
        speed = self.race.max_speed_m_s
        reads, flagged = plausible_reads(self.times.T, self.at_m, self.mat_of_tp, speed)
        pursuer, _ = plausible_reads(self.pursuer_times[:, None], self.at_m, self.mat_of_tp, speed)
        self.used_times, self.flagged, self.used_last = reads.times, flagged.T, reads.last
        self.used_pursuer_times = pursuer.columns[:, 0]
        return reads, pursuer

    async def load(self) -> RaceClock:
        """Read new passings, the guns, the pursuer's GPS, manual statuses and the clock from Redis."""
        assert self.store is not None, "an engine without a store is computed by hand"
        while True:
            batch = await self.store.passings_after(self.last_id)
            for p in batch:
                if p.bib == self.race.pursuer_bib:
                    self.pursuer_times[p.tp] = p.time
                elif (r := self.row.get(p.bib)) is not None:
                    self.times[r, p.tp] = p.time
            if batch:
                self.last_id = batch[-1].id
            if len(batch) < 50_000:
                break
        self.guns = await self.store.guns()
        self.gps = await self.store.pursuer_gps()
        manual = await self.store.manual_statuses()
        self.manual_status[:] = 0
        for bib, status in manual.items():
            if (r := self.row.get(bib)) is not None:
                self.manual_status[r] = DNF if status == "dnf" else DQ
        return await self.store.clock()

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

    def compute(self, now: float) -> Snapshot:
        """The live state at race time ``now`` from what the engine holds."""
        race = self.race
        if race.pursuer is None:
            return self.compute_timed(now)
        pursuer_speed = 1000.0 / race.pursuer.pace_s_per_km
        pursuer_start = self.expected_pursuer_start()
        pen_starts = self.pen_starts(pursuer_start)
        reads, _ = self._use_passings()
        pursuer_times = self.used_pursuer_times
        pursuer = pursuer_position(
            pursuer_times,
            self.at_m,
            pursuer_speed,
            self.guns.get("pursuer"),
            pursuer_start,
            now,
            race.pursuer.schedule,
            self._gps_on_course(pursuer_start, pursuer_speed, now),
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
        lon, lat = race.course.lonlat_at(result.distance_m)
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

    def compute_timed(self, now: float) -> Snapshot:
        """The live state of a race without a pursuer (``live.engine.plain``)."""
        reads, _ = self._use_passings()
        starts = self.pen_starts(None)[self.runner_pen_index]
        result = evaluate_timed(reads, self.at_m, self.prior_m_s, now, starts, self.manual_status)
        first_gun = min(self.guns.values()) if self.guns else None
        snap = plain_snapshot(self.race, now, first_gun, self.bibs, self.pens, self.row, reads, result)
        self.classes = snap.margin_class
        return snap

    def places(self) -> Places:
        """Every runner's place overall, within his sex and within his sex and category (0: none) by
        the race's outcome: a chase's winners by finish time, a race without a pursuer's finishers
        by gun time (net time breaks a tie); computed once per snapshot."""
        snap = self.snapshot
        assert snap is not None, "places come after the first tick"
        if self._places is None or self._places[0] is not snap:
            gun = self.pen_starts(None)[self.runner_pen_index] if self.race.pursuer is None else None
            self._places = (snap, standings(self.race, snap, self.used_times, gun, self.groups))
        return self._places[1]

    def _record_forecast(self, snap: Snapshot) -> None:
        """Keep a point of the forecast every ``HISTORY_STEP_S`` of race time (a rewound clock restarts it),
        from the first start: before it there is nothing to forecast (the screens show "–")."""
        f = snap.forecast
        if not snap.counts.get("started") or f is None:
            return
        last = self.forecast_history[-1][0] if self.forecast_history else None
        if last is not None and snap.now < last:
            self.forecast_history.clear()
        elif last is not None and snap.now - last < HISTORY_STEP_S:
            return
        if self.race.by_distance:  # a catcher-car race: the count still running, instead of winners
            running = snap.counts.get("running", 0)
            self.forecast_history.append((snap.now, running, running, running, None))
            return
        self.forecast_history.append((snap.now, f.winners, f.low, f.high, f.at_plan))

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
        return forecast(
            self.model,
            elapsed,
            self.at_m,
            starts,
            since,
            race.distance_m / self.prior_m_s,
            settled,
            pf,
            self.runner_pen_index,
            len(race.pens),
            last,
        )

    def _gps_on_course(self, start: float, speed_m_s: float, now: float) -> tuple[float, float] | None:
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

    def passings_of(self, bib: str) -> np.ndarray:
        """Passing times of one participant by timing point (nan where none)."""
        if bib == self.race.pursuer_bib:
            return self.pursuer_times.copy()
        times: np.ndarray = self.times[self.row[bib]].copy()
        return times

    async def run(self, stop: asyncio.Event, tick_s: float = TICK_S) -> None:
        """Refresh every ``tick_s`` until ``stop`` is set; a failed tick is logged and retried. With a
        ``lease``, only while this process holds it (renewed each tick); else try to take it every
        ``STANDBY_POLL_S``, and let it go when stopped.

        Ticks keep a fixed cadence: the time a tick takes (its fan-out to 5,000 clients: ~0.1 s) is not
        added to the period; a tick that overruns the next is followed by the next at once."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stop.is_set():
            try:
                if self.lease is None or await self.lease.hold():
                    await self.refresh()
                else:  # a standby: try again soon, the leader's lease lapses 2 s after it dies
                    due = loop.time() - tick_s + STANDBY_POLL_S
            except REDIS_UNAVAILABLE as exc:  # away or failing over: keep serving the last good snapshot, say so once
                if self.redis_failing_since is None:
                    self.redis_failing_since = time.time()
                    log.warning("live tick: Redis failed (%s); serving the last snapshot until it answers", exc)
            except Exception:  # keep serving the last good snapshot
                log.exception("live tick failed")
            else:
                if self.redis_failing_since is not None:
                    log.warning("live tick: Redis answers again, after %.1f s", time.time() - self.redis_failing_since)
                    self.redis_failing_since = None
            due = max(due + tick_s, loop.time())
            try:
                await asyncio.wait_for(stop.wait(), timeout=due - loop.time())
            except TimeoutError:
                pass
        if self.lease is not None:
            try:
                await self.lease.release()
            except Exception as exc:  # Redis away: the lease lapses by itself
                log.warning("could not release the engine lease: %r", exc)


__all__ = ["LiveEngine", "STATUSES"]
