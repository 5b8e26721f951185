"""The one-pass tick gives the numbers of the straightforward one, bit for bit.

The engine reads the passings once per tick, by timing point (``live.chase.projection.Reads``): the
plausibility rules, each runner's last, previous and first read, the projection, the catches on the
mats, the forecast's inputs and the counts all come from that pass. The reference implementations
below are the code it replaced, kept as written (one search of every row per question): each test
compares the two on fields with holes, impossible and backwards reads, second crossings of a mat
and manual statuses.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from live.chase.chase import (
    CATCH_SLACK_M,
    CATCH_SLACK_SHARE,
    ChaseResult,
    PursuerPosition,
    evaluate,
    probability_classes,
    pursuer_position,
)
from live.chase.projection import (
    CLAMP_SHORT_M,
    OVERDUE_MIN_S,
    OVERDUE_SHARE,
    SEGMENT_WEIGHT,
    Projection,
    Reads,
    estimate_speed,
    last_read,
    plausible_passings,
    project,
)
from live.chase.snapshot import AHEAD, CAUGHT, DNF, DQ, REGISTERED, STARTED, WON, Snapshot
from live.engine.engine import LiveEngine
from live.forecast.forecast import WinForecast, forecast, pursuer_forecast
from live.race.race import Race

J1000_AT = np.array([0.0, 400, 1930, 3400, 4271, 4560, 5000])
J1000_MATS = ["start", "marbeuf", "concorde", "george-v", "marbeuf", "george-v", "finish"]
MARATHON_AT = np.array([0.0, 5000, 10000, 15000, 20000, 21097.5, 25000, 30000, 35000, 40000, 42195])
MARATHON_MATS = ["start", "5k", "10k", "15k", "20k", "half", "25k", "30k", "35k", "40k", "finish"]
NO_START_AT = np.array([400.0, 1930, 3400, 5000])  # no start mat: the first point is a split
NO_START_MATS = ["a", "b", "a", "finish"]
COURSES = [(J1000_AT, J1000_MATS), (MARATHON_AT, MARATHON_MATS), (NO_START_AT, NO_START_MATS)]
MAX_SPEED = 7.5


# ---- the reference: the code the one-pass tick replaced ---------------------------------------


def ref_last_read(times: np.ndarray) -> np.ndarray:
    k = times.shape[1]
    has = ~np.isnan(times)
    rev = np.argmax(has[:, ::-1], axis=1)
    return np.where(has.any(axis=1), k - 1 - rev, -1)


def ref_estimate_speed(times: np.ndarray, at_m: np.ndarray, prior_m_s: np.ndarray) -> np.ndarray:
    n = times.shape[0]
    rows = np.arange(n)
    last = ref_last_read(times)
    masked = times.copy()
    masked[rows, np.maximum(last, 0)] = np.nan
    prev = ref_last_read(np.where(np.arange(times.shape[1]) < last[:, None], masked, np.nan))
    first = np.argmax(~np.isnan(times), axis=1)
    t_last = times[rows, np.maximum(last, 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        seg = (at_m[np.maximum(last, 0)] - at_m[np.maximum(prev, 0)]) / (t_last - times[rows, np.maximum(prev, 0)])
        whole = (at_m[np.maximum(last, 0)] - at_m[first]) / (t_last - times[rows, first])
    seg = np.where((prev >= 0) & np.isfinite(seg) & (seg > 0), seg, np.nan)
    whole = np.where(np.isfinite(whole) & (whole > 0) & (first != last), whole, np.nan)
    speed = np.where(np.isnan(whole), seg, SEGMENT_WEIGHT * seg + (1 - SEGMENT_WEIGHT) * whole)
    speed = np.where(np.isnan(speed), whole, speed)
    return np.where(np.isnan(speed), prior_m_s, speed)


def ref_project(times: np.ndarray, at_m: np.ndarray, prior_m_s: np.ndarray, now: float) -> Projection:
    n, k = times.shape
    rows = np.arange(n)
    last = ref_last_read(times)
    speed = ref_estimate_speed(times, at_m, prior_m_s)
    li = np.maximum(last, 0)
    t_last = times[rows, li]
    dist = at_m[li] + speed * np.maximum(now - t_last, 0.0)
    nxt = np.minimum(li + 1, k - 1)
    limit = np.where(last == k - 1, at_m[-1], at_m[nxt] - CLAMP_SHORT_M)
    dist = np.where(last >= 0, np.minimum(dist, limit), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_s = (at_m[nxt] - at_m[li]) / speed
    late_s = (now - t_last) - expected_s
    overdue = (last >= 0) & (last < k - 1) & (late_s > np.maximum(OVERDUE_MIN_S, OVERDUE_SHARE * expected_s))
    return Projection(distance_m=dist, speed_m_s=speed, last_tp=last, overdue=overdue)


def ref_plausible_passings(
    times: np.ndarray, at_m: np.ndarray, mat_of_tp: list[str], max_speed_m_s: float
) -> tuple[np.ndarray, np.ndarray]:
    t = times.astype(float, copy=True)
    k = t.shape[1]
    for mat in dict.fromkeys(mat_of_tp):
        cols = [j for j in range(k) if mat_of_tp[j] == mat]
        for a, b in zip(cols, cols[1:], strict=False):
            between = [j for j in range(a + 1, b) if mat_of_tp[j] != mat]
            if not between:
                continue
            earlier_elsewhere = np.nanmin(np.where(np.isnan(t[:, between]), np.inf, t[:, between]), axis=1)
            move = ~np.isnan(t[:, a]) & np.isnan(t[:, b]) & (earlier_elsewhere < t[:, a])
            t[move, b] = t[move, a]
            t[move, a] = np.nan
    flagged = np.zeros(t.shape, dtype=bool)
    last_t = np.full(t.shape[0], np.nan)
    last_m = np.zeros(t.shape[0])
    for j in range(k):
        tj = t[:, j]
        has = ~np.isnan(tj)
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = (at_m[j] - last_m) / (tj - last_t)
        bad = has & ~np.isnan(last_t) & ((tj <= last_t) | (speed > max_speed_m_s))
        flagged[:, j] = bad
        ok = has & ~bad
        last_t = np.where(ok, tj, last_t)
        last_m = np.where(ok, at_m[j], last_m)
    t[flagged] = np.nan
    return t, flagged


def ref_evaluate(
    times: np.ndarray,
    at_m: np.ndarray,
    prior_m_s: np.ndarray,
    pursuer_times: np.ndarray,
    pursuer: PursuerPosition,
    now: float,
    start_s: np.ndarray,
    manual_status: np.ndarray | None = None,
) -> ChaseResult:
    n, k = times.shape
    distance = float(at_m[-1])
    proj = ref_project(times, at_m, prior_m_s, now)
    d, v = proj.distance_m, proj.speed_m_s
    finish = times[:, -1]
    finished = ~np.isnan(finish)
    started = proj.last_tp >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        from_s = np.where(started, now, np.maximum(now, start_s))
        remaining = distance - d
        pred_finish = np.where(finished, finish, from_s + remaining / v)
    p_finish = pursuer.finish if pursuer.finish is not None else pursuer.predicted_finish
    margin = p_finish - pred_finish
    # on his trajectory (before his gun, where it would be: behind the line), for the time he needs and
    # where he meets a runner; the gap shown is to where he is (at the start line until his gun)
    trail_m = d - pursuer.distance_m
    gap_m = d - max(pursuer.distance_m, 0.0)
    gap_s = trail_m / pursuer.speed_m_s
    p_read = ~np.isnan(pursuer_times)
    with np.errstate(invalid="ignore"):
        behind_at = p_read[None, :] & (np.isnan(times) | (times > pursuer_times[None, :]))
    beyond = np.arange(k)[None, :] > proj.last_tp[:, None]
    confirmed = (behind_at & (beyond | ~np.isnan(times))).any(axis=1) & started & ~finished
    # the rule of a provisional catch (since replaced), not the one-pass structure: as live.chase.chase has it
    slack_m = CATCH_SLACK_M + CATCH_SLACK_SHARE * np.where(started, d - at_m[np.maximum(proj.last_tp, 0)], 0.0)
    provisional = started & ~finished & (pursuer.status == "running") & (gap_m <= -slack_m)
    status = np.full(n, REGISTERED, dtype=np.int8)
    status[started] = STARTED if pursuer.status == "waiting" else AHEAD
    status[confirmed | provisional] = CAUGHT
    if pursuer.finish is not None:
        status[started & ~finished] = CAUGHT
        status[finished] = np.where(finish[finished] < pursuer.finish, WON, CAUGHT)
    else:
        status[finished] = WON
    if manual_status is not None:
        manual = (manual_status == DNF) | (manual_status == DQ)
        status[manual] = manual_status[manual]
    closing = pursuer.speed_m_s - v
    with np.errstate(invalid="ignore", divide="ignore"):
        in_s = np.where((closing > 0) & (trail_m > 0), trail_m / closing, np.nan)
        at = d + v * in_s
    meets = (status == AHEAD) | (status == STARTED)
    meets &= np.isfinite(at) & (at < distance)
    return ChaseResult(
        status=status,
        distance_m=d,
        gap_m=gap_m,
        gap_s=gap_s,
        margin_s=margin,
        catch_at_m=np.where(meets, at, np.nan),
        catch_in_s=np.where(meets, in_s, np.nan),
        overdue=proj.overdue & (status != CAUGHT),
        predicted_finish=pred_finish,
        pursuer=pursuer,
        speed_m_s=v,
        confirmed=confirmed | ((pursuer.finish is not None) & ~finished & started),
        last_tp=proj.last_tp,
    )


def ref_probability_classes(
    status: np.ndarray, win_probability: np.ndarray, previous: np.ndarray | None = None
) -> np.ndarray:
    p = np.nan_to_num(win_probability, nan=0.0)
    out = np.select(
        [status == CAUGHT, status == WON, status == DNF, status == DQ, p >= 0.8, p >= 0.2],
        [5, 6, 7, 8, 2, 3],
        default=4,
    ).astype(np.uint8)
    if previous is not None and len(previous) == len(out):
        h = 0.03
        open_ = (out >= 2) & (out <= 4) & (previous >= 2) & (previous <= 4)
        lo = np.where(previous == 2, 0.8 - h, np.where(previous == 3, 0.2 - h, -1.0))
        hi = np.where(previous == 2, 2.0, np.where(previous == 3, 0.8 + h, 0.2 + h))
        keep = open_ & (p >= lo) & (p < hi)
        out[keep] = previous[keep]
    out[(status == REGISTERED) & (out >= 2) & (out <= 4)] = 0
    return out


def ref_win_forecast(
    engine: LiveEngine, times: np.ndarray, pursuer_times: np.ndarray, runner_starts: np.ndarray, chase: ChaseResult,
    now: float,
) -> WinForecast:  # fmt: skip
    """``LiveEngine.win_forecast`` as it was: the forecast's inputs from (runners, points) arrays."""
    race = engine.race
    status, confirmed, last = chase.status, chase.confirmed, chase.last_tp
    start_col = engine.at_m <= 0.0
    start_cols = np.flatnonzero(start_col)
    read_start = np.fmin.reduce(times[:, start_cols], axis=1) if len(start_cols) else np.full(len(times), np.nan)
    starts = np.where(np.isnan(read_start), runner_starts, read_start)
    elapsed = times - starts[:, None]
    last_t = times[np.arange(len(times)), np.maximum(last, 0)]
    since = np.where(last >= 0, now - last_t, 0.0)
    settled = np.full(len(status), np.nan)
    settled[status == WON] = 1.0
    settled[(status == CAUGHT) & confirmed] = 0.0
    settled[(status == DNF) | (status == DQ)] = 0.0
    gun = engine.guns.get("pursuer", engine.expected_pursuer_start())
    planned_s = race.distance_m * race.pursuer.pace_s_per_km / 1000.0
    p_elapsed = pursuer_times - gun
    p_elapsed[start_col] = np.nan
    pf = pursuer_forecast(engine.model, p_elapsed, engine.at_m, gun, planned_s, now)
    if pf.basis == "finished":
        settled[np.isnan(settled)] = 0.0
    return forecast(
        engine.model, elapsed, engine.at_m, starts, since, race.distance_m / engine.prior_m_s, settled, pf,
        engine.runner_pen_index, len(race.pens), last,
    )  # fmt: skip


def ref_tick(engine: LiveEngine, now: float, previous_classes: np.ndarray | None) -> dict[str, object]:
    """What ``LiveEngine.compute`` gave before the one-pass tick (the numbers only, not the map)."""
    race = engine.race
    assert race.pursuer.schedule is None
    speed = 1000.0 / race.pursuer.pace_s_per_km
    p_start = engine.expected_pursuer_start()
    pen_starts = np.array([engine.guns.get(f"pen:{p.id}", p_start - p.head_start_s) for p in race.pens])
    times, flagged = ref_plausible_passings(engine.times, engine.at_m, engine.mat_of_tp, race.max_speed_m_s)
    p_times = ref_plausible_passings(engine.pursuer_times[None, :], engine.at_m, engine.mat_of_tp, race.max_speed_m_s)
    pursuer = pursuer_position(
        p_times[0][0], engine.at_m, speed, engine.guns.get("pursuer"), p_start, now, None,
        engine._gps_on_course(p_start, speed, now),
    )  # fmt: skip
    starts, p_used = pen_starts[engine.runner_pen_index], p_times[0][0]
    result = ref_evaluate(times, engine.at_m, engine.prior_m_s, p_used, pursuer, now, starts, engine.manual_status)
    win = ref_win_forecast(engine, times, p_used, starts, result, now)
    decided = np.isnan(win.predicted_finish) | (pursuer.finish is not None)
    by_pen = {}
    for g, pen in enumerate(race.pens):
        mask = engine.pens == pen.id
        expected, low, high = win.by_group[g]
        by_pen[pen.id] = {"runners": int(mask.sum()), "won": int((result.status[mask] == WON).sum()),
                          "winners": round(float(expected)), "low": int(low), "high": int(high)}  # fmt: skip
    counts = {"registered": len(engine.bibs), "started": int((~np.isnan(engine.times)).any(axis=1).sum())} | {
        name: int((result.status == code).sum())
        for name, code in (("ahead", AHEAD), ("caught", CAUGHT), ("won", WON), ("dnf", DNF), ("dq", DQ))
    }
    return {
        "used_times": times, "flagged": flagged, "used_pursuer_times": p_times[0][0],
        "status": result.status, "distance_m": result.distance_m, "gap_m": result.gap_m, "gap_s": result.gap_s,
        "margin_s": np.where(decided, result.margin_s, win.pursuer.median - win.predicted_finish),
        "catch_at_m": result.catch_at_m, "catch_in_s": result.catch_in_s, "overdue": result.overdue,
        "speed_m_s": result.speed_m_s, "win_probability": win.win_probability,
        "margin_class": ref_probability_classes(result.status, win.win_probability, previous_classes),
        "counts": counts, "by_pen": by_pen, "forecast": (round(win.expected), win.low, win.high, round(win.at_plan)),
        "pursuer": (pursuer.status, max(pursuer.distance_m, 0.0), 1000.0 / pursuer.speed_m_s, pursuer.finish),
        "last_tp": ref_last_read(times),
    }  # fmt: skip


# ---- fields ------------------------------------------------------------------------------------


def field(rng: np.random.Generator, n: int, at_m: np.ndarray, t0: float = 1_000.0) -> np.ndarray:
    """Passings of ``n`` runners at 1.5–6 m/s, each up to a random point, then spoiled: holes, reads
    too fast or backwards, late reads (a second crossing), equal reads, and a few rows read nowhere."""
    pace = rng.uniform(1.5, 6.0, n)
    times = t0 + rng.uniform(0, 900, n)[:, None] + (at_m - at_m[0])[None, :] / pace[:, None]
    times[np.arange(len(at_m))[None, :] > rng.integers(-1, len(at_m), n)[:, None]] = np.nan
    spoil = rng.random(times.shape)
    times[spoil < 0.08] = np.nan
    times[(spoil > 0.92) & (spoil < 0.95)] -= rng.uniform(0, 900)
    times[spoil > 0.97] += rng.uniform(0, 1500)
    same = rng.random(n) < 0.03
    times[same, 1:] = times[same, :1]  # every read at one instant
    return times


runs = st.builds(lambda seed, n, c: (np.random.default_rng(seed), n, c), st.integers(0, 2**32 - 1),
                 st.integers(1, 60), st.integers(0, len(COURSES) - 1))  # fmt: skip


def same(a: object, b: object) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind == "f")


# ---- the functions ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(runs)
def test_the_plausible_passings_and_their_reads_are_the_reference_ones(run):
    rng, n, course = run
    at_m, mats = COURSES[course]
    times = field(rng, n, at_m)
    used, flagged = plausible_passings(times, at_m, mats, MAX_SPEED)
    ref_used, ref_flagged = ref_plausible_passings(times, at_m, mats, MAX_SPEED)
    assert same(used, ref_used) and same(flagged, ref_flagged)
    assert same(last_read(used), ref_last_read(ref_used))
    assert np.isnan(times).all(axis=1).sum() == (last_read(used) < 0).sum()  # a first read is never dropped


# to the millisecond, as timing systems give them
passing = st.one_of(st.just(np.nan), st.floats(-10, 3000).map(lambda t: round(t, 3)), st.sampled_from([np.inf, 100.0]))


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 12), st.just(7)), elements=passing))
def test_arbitrary_passings_meet_the_reference_rules(times):
    used, flagged = plausible_passings(times, J1000_AT, J1000_MATS, MAX_SPEED)
    ref_used, ref_flagged = ref_plausible_passings(times, J1000_AT, J1000_MATS, MAX_SPEED)
    assert same(used, ref_used) and same(flagged, ref_flagged)
    reads = Reads.of(times)
    assert same(reads.last, ref_last_read(times))
    assert same(reads.first, np.argmax(~np.isnan(times), axis=1))


@pytest.mark.parametrize("k", [126, 127, 200])  # the reads' indices outgrow a byte
def test_the_reads_of_a_course_with_many_timing_points_are_the_reference_ones(k):
    at_m = np.linspace(0.0, 100_000.0, k)
    times = field(np.random.default_rng(k), 500, at_m)
    reads = Reads.of(times)
    assert same(reads.last, ref_last_read(times)) and reads.last.max() == k - 1
    assert same(reads.first, np.argmax(~np.isnan(times), axis=1))
    prior = np.full(500, 3.0)
    assert same(estimate_speed(times, at_m, prior), ref_estimate_speed(times, at_m, prior))
    mats = [f"m{j}" for j in range(k)]
    assert all(map(same, plausible_passings(times, at_m, mats, 7.5), ref_plausible_passings(times, at_m, mats, 7.5)))


@settings(max_examples=300, deadline=None)
@given(runs, st.floats(0, 6000))
def test_the_speeds_and_the_projection_are_the_reference_ones(run, after_s):
    rng, n, course = run
    at_m, _ = COURSES[course]
    times = field(rng, n, at_m)  # not filtered: the projection takes any passings
    prior = rng.uniform(2.0, 5.0, n)
    assert same(estimate_speed(times, at_m, prior), ref_estimate_speed(times, at_m, prior))
    got, ref = project(times, at_m, prior, 1_000.0 + after_s), ref_project(times, at_m, prior, 1_000.0 + after_s)
    for name in ("distance_m", "speed_m_s", "last_tp", "overdue"):
        assert same(getattr(got, name), getattr(ref, name)), name


@settings(max_examples=300, deadline=None)
@given(runs, st.floats(0, 6000), st.integers(0, 6), st.booleans())
def test_the_chase_is_the_reference_one(run, after_s, pursuer_reads, finished):
    rng, n, course = run
    at_m, mats = COURSES[course]
    times, _ = plausible_passings(field(rng, n, at_m), at_m, mats, MAX_SPEED)
    p_times = 1_500.0 + (at_m - at_m[0]) / 5.5
    p_times[min(pursuer_reads, len(at_m) - 1) :] = np.nan
    if finished:
        p_times[-1] = 1_500.0 + at_m[-1] / 5.5
    now = 1_000.0 + after_s
    pursuer = pursuer_position(p_times, at_m, 5.5, 1_500.0, 1_500.0, now)
    manual = np.where(rng.random(n) < 0.1, rng.choice([DNF, DQ], n), 0).astype(np.int8)
    args = (at_m, rng.uniform(2.0, 5.0, n), p_times, pursuer, now, rng.uniform(900, 1200, n), manual)
    got, ref = evaluate(times, *args), ref_evaluate(times, *args)
    for name in ChaseResult.__dataclass_fields__:
        if name != "pursuer":
            assert same(getattr(got, name), getattr(ref, name)), name
    p = rng.random(n)
    p[rng.random(n) < 0.1] = np.nan
    previous = rng.integers(0, 9, n).astype(np.uint8)
    assert same(probability_classes(got.status, p), ref_probability_classes(ref.status, p))
    assert same(probability_classes(got.status, p, previous), ref_probability_classes(ref.status, p, previous))


# ---- the whole tick ----------------------------------------------------------------------------


def spoiled_engine(race: Race, seed: int) -> tuple[LiveEngine, float]:
    """The J-1000 with every runner out, his passings spoiled, some out by hand, the pursuer read at
    the start and the first mat."""
    engine = LiveEngine(race, store=None)
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_000.0
    engine.guns = {f"pen:{p.id}": t0 + i * 300 for i, p in enumerate(race.pens)} | {"pursuer": t0 + 1140}
    engine.times[:] = field(rng, len(engine.bibs), engine.at_m, t0)  # kept by timing point, as load() fills it
    engine.manual_status[rng.choice(len(engine.bibs), 30, replace=False)] = DNF
    engine.manual_status[rng.choice(len(engine.bibs), 10, replace=False)] = DQ
    engine.pursuer_times[:2] = t0 + 1140 + engine.at_m[:2] * 0.173
    return engine, t0 + 1600


def check_tick(engine: LiveEngine, snap: Snapshot, ref: dict[str, object]) -> None:
    for name in ("used_times", "flagged", "used_pursuer_times"):
        assert same(getattr(engine, name), ref[name]), name
    for name in ("status", "distance_m", "gap_m", "gap_s", "margin_s", "catch_at_m", "catch_in_s", "overdue",
                 "speed_m_s", "win_probability", "margin_class"):  # fmt: skip
        assert same(getattr(snap, name), ref[name]), name
    assert snap.counts == ref["counts"] and snap.forecast.by_pen == ref["by_pen"]
    f, p = snap.forecast, snap.pursuer
    assert (f.winners, f.low, f.high, f.at_plan) == ref["forecast"]
    assert (p.status, p.distance_m, p.pace_s_per_km, p.finish) == ref["pursuer"]
    assert same(engine.used_last, ref["last_tp"])


@pytest.mark.parametrize("seed", [1, 2])
def test_the_engine_tick_is_the_reference_one_tick_after_tick(paris, seed):
    engine, now = spoiled_engine(paris, seed)
    previous = None
    for step_s in (-1500.0, -400.0, 0.0, 600.0, 2500.0):  # before and after the catches, classes held between
        ref = ref_tick(engine, now + step_s, previous)
        snap = engine.compute(now + step_s)
        check_tick(engine, snap, ref)
        previous = snap.margin_class
    assert engine.flagged.any() and snap.counts["started"] < len(engine.bibs)  # the field was spoiled enough
    engine.pursuer_times[:] = now - 460 + engine.at_m * 0.173  # the pursuer has finished
    check_tick(engine, engine.compute(now + 2600), ref_tick(engine, now + 2600, previous))


def test_the_engine_tick_is_the_reference_one_on_passings_held_by_runner(paris):
    engine, now = spoiled_engine(paris, 3)
    engine.times = np.ascontiguousarray(engine.times)  # as a replay sets them: one row per runner
    check_tick(engine, engine.compute(now), ref_tick(engine, now, None))
