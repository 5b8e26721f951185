"""What the live feed's messages say (snapshot, tick, follow, client requests) and the runner detail the
API and the feed share: plain functions from a snapshot to JSON-ready values, no connections.

Distances are whole metres, speeds decimetres a second (``speed_dm_s``; 5 cm in a second, less than a
dot), win probabilities whole percent in steps of ``WIN_PCT_STEP`` (``win_pct``; -1 where none) and
margins whole seconds within ``MARGIN_FINE_S`` of zero, else multiples of ``MARGIN_STEP_S``:
what keeps a 40,000-runner snapshot under 200 KB gzipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from live.chase.chase import CLASSES, catch_point
from live.chase.snapshot import CAUGHT, STATUSES, Snapshot
from live.engine.engine import LiveEngine
from web.catcher_results import caught_at, detail_fields
from web.http import iso_time, num

MAX_FOLLOW = 50
MAX_MESSAGE_CHARS = 4096
WIN_PCT_STEP = 5  # the feed's win percent, in steps of this many points (the API's is to 0.1 %)
MARGIN_FINE_S = 120.0  # margins this close to zero are sent to the second…
MARGIN_STEP_S = 5  # …farther ones to this step


def rounded(values: np.ndarray, digits: int) -> list[Any]:
    """A JSON-ready list: rounded, whole numbers as ints when ``digits`` is 0, null where not finite."""
    r = np.round(np.asarray(values, dtype=float), digits)
    r[~np.isfinite(r)] = np.nan
    if digits == 0:
        return [None if v != v else int(v) for v in r.tolist()]
    return [None if v != v else v for v in r.tolist()]


def win_percent(win_probability: np.ndarray | None, n: int) -> np.ndarray:
    """Win probabilities as whole percent (int16), -1 where the engine has none."""
    if win_probability is None:
        return np.full(n, -1, dtype=np.int16)
    p = np.asarray(win_probability, dtype=float)
    return np.where(np.isfinite(p), np.rint(np.nan_to_num(p) * 100.0), -1).astype(np.int16)


def stepped_percent(snap: Snapshot, rows: np.ndarray | slice) -> list[int]:
    """Win percent of ``rows`` in steps of ``WIN_PCT_STEP``, -1 where none."""
    pct = win_percent(snap.win_probability, len(snap.bibs))[rows]
    stepped = np.where(pct < 0, -1, np.rint(pct / WIN_PCT_STEP) * WIN_PCT_STEP).astype(int)
    out: list[int] = stepped.tolist()
    return out


def probability(snap: Snapshot, i: int) -> float | None:
    """A runner's chance to beat the pursuer, to three places; None where the engine has none."""
    p = snap.win_probability
    return None if p is None or not math.isfinite(p[i]) else round(float(p[i]), 3)


def coarse_margins(margin_s: np.ndarray) -> list[Any]:
    """Margins as sent: whole seconds within ``MARGIN_FINE_S`` of zero, else to ``MARGIN_STEP_S``."""
    m = np.asarray(margin_s, dtype=float)
    stepped = np.where(np.abs(m) <= MARGIN_FINE_S, np.round(m), np.round(m / MARGIN_STEP_S) * MARGIN_STEP_S)
    return rounded(stepped, 0)


# ---- what the client asks ----------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotRequest:
    """The client wants a fresh snapshot (``{"snapshot": true}`` or ``{"resync": true}``)."""


@dataclass(frozen=True)
class FollowRequest:
    """The client wants full detail for these bibs after every tick (empty: stop)."""

    bibs: tuple[str, ...]


def parse_client_message(raw: str | bytes) -> SnapshotRequest | FollowRequest:
    """Decode one client message; ``ValueError`` says what was wrong and what is accepted."""
    if len(raw) > MAX_MESSAGE_CHARS:
        raise ValueError(f"message too long ({len(raw)} characters, at most {MAX_MESSAGE_CHARS})")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError('expected a JSON object: {"snapshot": true}, {"resync": true} or {"follow": ["123"]}')
    if body.get("snapshot") is True or body.get("resync") is True:
        return SnapshotRequest()
    if "follow" in body:
        bibs = body["follow"]
        if not isinstance(bibs, list) or not all(isinstance(b, str | int) and not isinstance(b, bool) for b in bibs):
            raise ValueError('"follow" must be a list of bibs, e.g. {"follow": ["123", "456"]}')
        if len(bibs) > MAX_FOLLOW:
            raise ValueError(f"follow at most {MAX_FOLLOW} bibs at once (got {len(bibs)})")
        return FollowRequest(tuple(dict.fromkeys(str(b) for b in bibs)))
    raise ValueError(f"unknown request {sorted(body)[:5]}: send snapshot, resync or follow")


def error_message(message: str) -> bytes:
    """An error for one client (``{"type": "error", "message": …}``)."""
    return orjson.dumps({"type": "error", "message": message})


# ---- what the feed sends -----------------------------------------------------------------------


def forecast_fields(snap: Snapshot) -> dict[str, Any] | None:
    """The winners forecast without its per-pen breakdown: the count, its band and the band's level,
    the count if the pursuer holds his plan, and what the pursuer's forecast rests on (None in a race
    without a pursuer)."""
    f = snap.forecast
    if f is None:
        return None
    return {
        "winners": f.winners,
        "low": f.low,
        "high": f.high,
        "level": f.level,
        "quota": f.quota,
        "at_plan": f.at_plan,
        "pursuer_basis": f.pursuer_basis,
        # a catcher-car race: the expected count still running at each milestone, with its band (level)
        **({} if f.milestones is None else {"milestones": f.milestones}),
    }


def pursuer_fields(snap: Snapshot) -> dict[str, Any] | None:
    """Where the pursuer is, as every tick carries it (None in a race without a pursuer)."""
    p = snap.pursuer
    if p is None:
        return None
    return {
        "status": p.status,
        "distance_m": num(p.distance_m),
        "pace_s_per_km": num(p.pace_s_per_km),
        "lat": num(p.lat, 6),
        "lon": num(p.lon, 6),
    }


def runner_arrays(
    snap: Snapshot, speed_m_s: np.ndarray, classes: np.ndarray | None, rows: np.ndarray | slice
) -> dict[str, Any]:
    """Per-runner parallel arrays for ``rows``: status, class, distance, speed, margin, win percent."""
    out: dict[str, Any] = {"status": snap.status[rows].tolist()}
    if classes is not None:
        out["class"] = classes[rows].tolist()
    out["distance_m"] = rounded(snap.distance_m[rows], 0)
    out["speed_dm_s"] = rounded(speed_m_s[rows] * 10.0, 0)
    out["margin_s"] = coarse_margins(snap.margin_s[rows])
    # sent to 5 points (it is only resent once it moved 5): a fifth of the symbols, for gzip
    out["win_pct"] = stepped_percent(snap, rows)
    return out


def win_rows(snap: Snapshot, rows: np.ndarray) -> dict[str, Any]:
    """Only the win percent of ``rows``: for runners whose chance moved and nothing else did."""
    return {"index": rows.tolist(), "pct": stepped_percent(snap, rows)}


class TickRows:
    """What a tick carries of the runners: whole rows, rows whose win percent alone moved, rows whose
    margin alone moved (row indices, ascending; ``web.feed_rows`` picks them)."""

    __slots__ = ("changed", "margin", "win")

    def __init__(self, changed: np.ndarray, win: np.ndarray, margin: np.ndarray) -> None:
        self.changed, self.win, self.margin = changed, win, margin


def tick_message(
    seq: int, snap: Snapshot, rows: TickRows, sent: float, speed_m_s: np.ndarray, classes: np.ndarray | None
) -> dict[str, Any]:
    """A sparse tick: the rows that changed, the pursuer, counts and forecast; ``sent`` the wall clock.
    Rows whose win percent alone moved go as ``win`` (index and percent), those whose margin alone
    moved as ``margin`` (index and margin), not whole (``web.feed_rows``)."""
    changed = rows.changed
    body: dict[str, Any] = {
        "type": "tick",
        "seq": seq,
        "now": round(snap.now, 3),
        "sent": round(sent, 3),
        "pursuer": pursuer_fields(snap),
        "counts": snap.counts,
        "forecast": forecast_fields(snap),
        "changed": {"index": changed.tolist(), **runner_arrays(snap, speed_m_s, classes, changed)},
    }
    if len(rows.win):
        body["win"] = win_rows(snap, rows.win)
    if len(rows.margin):
        body["margin"] = {"index": rows.margin.tolist(), "margin_s": coarse_margins(snap.margin_s[rows.margin])}
    return body


def snapshot_message(
    seq: int, race_id: str, snap: Snapshot, speed_m_s: np.ndarray, classes: np.ndarray | None, epoch: str
) -> dict[str, Any]:
    """The full state at ``seq`` as parallel arrays in roster order; ``epoch``, what ``seq`` counts in
    (a client that reconnects names it with his ``seq``: ``/ws/live?after=SEQ&epoch=E``)."""
    p, f = snap.pursuer, snap.forecast
    body: dict[str, Any] = {
        "type": "snapshot",
        "seq": seq,
        "race": race_id,
        "epoch": epoch,
        "now": round(snap.now, 3),
        "elapsed_s": num(snap.elapsed_s),
        "statuses": list(STATUSES),
    }
    if classes is not None:
        body["classes"] = list(CLASSES)
    body.update(
        {
            "pursuer": {**(pursuer_fields(snap) or {}), "bib": p.bib, "start": p.start, "finish": p.finish}
            if p is not None
            else None,
            "counts": snap.counts,
            "forecast": {**(forecast_fields(snap) or {}), "by_pen": f.by_pen} if f is not None else None,
            **runner_arrays(snap, speed_m_s, classes, slice(None)),
        }
    )
    return body


def follow_message(seq: int, runners: list[bytes]) -> bytes:
    """A follow message from runners' details, each already serialised."""
    return b'{"type":"follow","seq":%d,"runners":[%b]}' % (seq, b",".join(runners))


# ---- one runner, for the API and the follow messages ------------------------------------------


def row_summary(engine: LiveEngine, snap: Snapshot, i: int) -> dict[str, Any]:
    """One runner's line in ``GET /api/runners``."""
    bib = str(snap.bibs[i])
    participant = engine.race.participant(bib)
    return {
        "bib": bib,
        "name": participant.name if participant else "",
        "pen": str(snap.pens[i]),
        "status": STATUSES[int(snap.status[i])],
        "distance_m": num(snap.distance_m[i]),
        "gap_m": num(snap.gap_m[i]),
        "margin_s": num(snap.margin_s[i]),
        "win_probability": probability(snap, i),
        **({} if snap.caught_at_m is None else {"caught_at_m": caught_at(snap, i)}),
    }


def runner_detail(engine: LiveEngine, bib: str) -> dict[str, Any] | None:
    """Everything about one participant (SPEC §6 runner), or None if unknown or before the first tick."""
    race = engine.race
    snap = engine.snapshot
    participant = race.participant(bib)
    if participant is None or snap is None:
        return None
    tz = race.timezone
    times = engine.passings_of(bib)
    if bib == race.pursuer_bib:
        gun = snap.pursuer.start if snap.pursuer is not None else None
    else:
        gun = engine.guns.get(f"pen:{participant.pen}")
    start_read = times[0]
    splits = []
    for tp in race.timing_points:
        t = times[tp.index]
        if np.isnan(t):
            continue
        splits.append(
            {
                "mat": tp.mat,
                "crossing": tp.crossing,
                "at_m": tp.at_m,
                "time": iso_time(t, tz),
                "gun_s": num(t - gun, 2) if gun is not None else None,
                "net_s": num(t - start_read, 2) if not np.isnan(start_read) else None,
            }
        )
    finish = splits[-1] if splits and splits[-1]["at_m"] == race.distance_m else None
    finish_obj = {k: finish[k] for k in ("time", "gun_s", "net_s")} if finish else None
    if bib == race.pursuer_bib and (p := snap.pursuer) is not None:
        return {
            "bib": bib,
            "name": participant.name,
            "pen": participant.pen,
            "status": p.status,
            "pursuer": True,
            "distance_m": num(p.distance_m),
            "lat": p.lat,
            "lon": p.lon,
            "gap_m": 0.0,
            "gap_s": 0.0,
            "margin_s": 0.0,
            "win_probability": None,
            "catch": None,
            "splits": splits,
            "caught": None,
            "finish": finish_obj,
        }
    i = snap.index[bib]
    caught = None
    if snap.status[i] == CAUGHT and not engine.race.by_distance:
        point = catch_point(engine.used_times[i], engine.used_pursuer_times, engine.at_m)
        at_m, t = point if point else (float(snap.distance_m[i]), snap.now)
        caught = {"at_m": num(at_m), "time": iso_time(t, tz)}
    catch = None
    if math.isfinite(snap.catch_at_m[i]):
        catch = {"at_m": num(snap.catch_at_m[i]), "in_s": num(snap.catch_in_s[i])}
    body = row_summary(engine, snap, i)
    place, place_sex, place_category = engine.places().of(i)
    body.update(
        {
            "sex": participant.sex,
            "category": participant.category,
            "lat": float(snap.lat[i]),
            "lon": float(snap.lon[i]),
            "gap_s": num(snap.gap_s[i]),
            "catch": catch,
            "overdue": bool(snap.overdue[i]),
            "splits": splits,
            "caught": caught,
            "finish": finish_obj,
            "place": place,  # by the race's outcome; None until placed (live.chase.places)
            "place_sex": place_sex,
            "place_category": place_category,
        }
    )
    if engine.race.by_distance:  # the catcher-car format: caught where the car passed him, predicted catch
        body.update(detail_fields(engine, snap, i))
    return body
