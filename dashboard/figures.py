"""Figures of the dashboard, built from the race and a snapshot. Pure: no Dash, no I/O.

The map is a cartesian figure in projected metres (``Course.xy_at``): no glyph server and no
tiles needed, so it renders the same with or without internet. The figure Python builds is static
(course, direction arrows, mats and the legend) over a transparent plot; the browser draws the
basemap and its labels under it (``assets/map.js``) and fills and moves the runners over it
(``assets/pursuit.js``) from the live feed, so no figure ever travels back through Python. Traces
are found by name, not position.
"""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go

from i18n.catalogue import ENGLISH, N_, Language
from i18n.numbers import decimal, integer, km, percent
from live.chase.chase import CLASSES
from live.chase.snapshot import STATUSES, Snapshot
from live.race.race import Race

# Runners are coloured by predicted margin class (live.chase.chase.CLASSES).
# Okabe & Ito's palette (told apart with the common colour-vision deficiencies), and a shape per
# status as well (assets/pursuit.js draws the same shapes on the map): colour is never the only cue.
CLASS_COLOURS = {
    "registered": "#b0b7c3",
    "started": "#0072b2",
    "safe": "#0072b2",
    "at_risk": "#e69f00",
    "doomed": "#d55e00",
    "caught": "#000000",
    "won": "#009e73",
    "dnf": "#555555",
    "dq": "#555555",
    "finished": "#009e73",
}
CLASS_SHAPES = {  # plotly's marker symbols; the canvas draws the same
    "registered": "square",
    "started": "square",
    "safe": "square",
    "at_risk": "triangle-up",
    "doomed": "diamond",
    "caught": "x",
    "won": "circle",
    "dnf": "x",
    "dq": "x",
    "finished": "circle",
}
CLASS_LABELS = {
    "safe": N_("safe"),
    "at_risk": N_("at risk"),
    "doomed": N_("about to be caught"),
    "caught": N_("caught"),
    "won": N_("won"),
}
TIMED_LABELS = {"started": N_("running"), "finished": N_("finished"), "dnf": N_("stopped")}  # a race without a pursuer
COURSE_COLOUR = "#1f3b73"
ARROW_EVERY_M = 250.0
COURSE_SAMPLES_MAX = 2000


def course_samples(race: Race) -> str:
    """The course as JSON ``{"d": [...], "x": [...], "y": [...]}`` in race metres and projected
    metres, every 5 m (at most ``COURSE_SAMPLES_MAX`` points): what the browser needs to place a
    runner from his distance."""
    n = int(min(COURSE_SAMPLES_MAX, max(50, race.distance_m // 5 + 1)))
    d = np.linspace(0.0, race.distance_m, n)
    x, y = race.course.xy_at(d)
    return json.dumps({"d": np.round(d, 1).tolist(), "x": np.round(x, 1).tolist(), "y": np.round(y, 1).tolist()})


def direction_arrows(race: Race, every_m: float = ARROW_EVERY_M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the course's direction arrows go and where they point (degrees clockwise from north,
    as plotly's arrow markers take them), every ``every_m``, between the mats' start and finish."""
    d = np.arange(every_m / 2, race.distance_m, every_m)
    x, y = race.course.xy_at(d)
    ax, ay = race.course.xy_at(d - 5.0)
    bx, by = race.course.xy_at(d + 5.0)
    return x, y, np.degrees(np.arctan2(bx - ax, by - ay))


def map_view(race: Race) -> tuple[list[float], list[float]]:
    """The ranges the map opens at: the course with room for its labels (plotly widens one axis
    to the panel's shape, so the map fills it)."""
    cx, cy = race.course.xy_at(np.linspace(0.0, race.distance_m, 600))
    pad = max(250.0, 0.16 * max(np.ptp(cx), np.ptp(cy)))
    return [float(cx.min() - pad), float(cx.max() + pad)], [float(cy.min() - pad), float(cy.max() + pad)]


def map_figure(race: Race, lang: Language = ENGLISH) -> go.Figure:
    """The static map over the basemap: course with its direction, mats and the legend. The
    basemap, the labels and the runners are drawn by the browser (``assets/map.js``,
    ``assets/pursuit.js``), under and over this figure's transparent plot."""
    course_d = np.linspace(0.0, race.distance_m, 600)
    cx, cy = (np.round(v, 1) for v in race.course.xy_at(course_d))  # a decimetre: half the page's weight in digits
    mat_d = np.array([m.at_m[0] for m in race.mats])
    mx, my = race.course.xy_at(mat_d)
    axx, axy, angle = (np.round(v, 1) for v in direction_arrows(race))
    mat_ids, mat_names = [m.id for m in race.mats], [m.label for m in race.mats]
    traces = []
    if race.basemap is None:  # no streets to draw it: the avenue as a band
        traces.append(
            go.Scatter(
                x=cx,
                y=cy,
                mode="lines",
                line={"color": "#e3e6ea", "width": 28},
                hoverinfo="skip",
                name="avenue",
                showlegend=False,
            )
        )
    traces += [
        go.Scatter(
            x=cx,
            y=cy,
            mode="lines",
            line={"color": COURSE_COLOUR, "width": 3},
            hoverinfo="skip",
            name="course",
            showlegend=False,
        ),
        go.Scatter(
            x=axx,
            y=axy,
            mode="markers",
            hoverinfo="skip",
            name="direction",
            showlegend=False,
            marker={
                "symbol": "arrow",
                "size": 11,
                "angle": angle,
                "color": COURSE_COLOUR,
                "line": {"width": 1, "color": "#ffffff"},
            },
        ),
        go.Scatter(
            x=mx,
            y=my,
            mode="markers",
            customdata=mat_ids,
            hovertext=mat_names,
            name="mats",
            hoverinfo="text",
            marker={"symbol": "square", "size": 12, "color": "#34495e", "line": {"width": 1.5, "color": "#fff"}},
            showlegend=False,
        ),
    ]
    fig = go.Figure(traces)
    for cls, label in (CLASS_LABELS if race.pursuer is not None else TIMED_LABELS).items():  # legend only
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"size": 12, "color": CLASS_COLOURS[cls], "symbol": CLASS_SHAPES[cls]},
                name=lang._(label),
            )
        )
    xr, yr = map_view(race)
    fig.update_layout(
        uirevision="course",
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        plot_bgcolor="rgba(0,0,0,0)",  # the basemap shows through (assets/map.js draws it underneath)
        paper_bgcolor="rgba(0,0,0,0)",
        legend={"orientation": "h", "x": 0.01, "y": 0.99, "font": {"size": 14}, "bgcolor": "rgba(255,255,255,0.85)"},
        xaxis={"visible": False, "range": xr},
        yaxis={"visible": False, "range": yr, "scaleanchor": "x", "scaleratio": 1},
        dragmode="pan",
    )
    return fig


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def schedule_delta_s(race: Race, snap: Snapshot) -> float | None:
    """Seconds the pursuer is ahead of (positive) or behind his plan, at his current distance."""
    p, pursuer = snap.pursuer, race.pursuer
    if p is None or pursuer is None or p.status != "running" or p.start is None or p.distance_m <= 0:
        return None
    if pursuer.schedule is not None:
        planned_s = float(pursuer.schedule.elapsed_at(p.distance_m))
    else:
        planned_s = p.distance_m / 1000.0 * pursuer.pace_s_per_km
    return planned_s - (snap.now - p.start)


def signed_duration(seconds: float) -> str:
    return ("+" if seconds >= 0 else "−") + format_duration(abs(seconds))


STATUS_WORDS = {"waiting": N_("waiting"), "running": N_("running"), "finished": N_("finished")}


def waiting_text(snap: Snapshot, lang: Language = ENGLISH) -> str:
    """The pursuer's state when he is not running: when he starts, or that he has finished."""
    p = snap.pursuer
    if p is None:
        return lang._("no pursuer")
    if p.status == "waiting" and p.start is not None and p.start > snap.now:
        return lang._("starts in {duration}", duration=format_duration(p.start - snap.now))
    return lang._(STATUS_WORDS.get(p.status, p.status))


def kpi_texts(race: Race, snap: Snapshot, lang: Language = ENGLISH) -> dict[str, str]:
    """The KPI strip of a chase, as plain strings (rendered as text, never HTML), in ``lang``."""
    p, f = snap.pursuer, snap.forecast
    if p is None or f is None:
        raise ValueError("a race without a pursuer has its own KPIs (dashboard.timed)")
    code = lang.code
    pace = format_duration(p.pace_s_per_km)
    quota = lang._(" / quota {quota}", quota=integer(f.quota, code)) if f.quota is not None else ""
    delta = schedule_delta_s(race, snap)
    plan = (
        lang._("on plan")
        if delta is None or abs(delta) < 0.5
        else lang._("{delta} vs plan", delta=signed_duration(delta))
    )
    forecast = lang._(
        "{winners} ({low}–{high} at {level})",
        winners=integer(f.winners, code),
        low=integer(f.low, code),
        high=integer(f.high, code),
        level=percent(f.level, code),
    )
    return {
        "kpi-clock": format_duration(snap.elapsed_s),
        "kpi-pursuer": f"{km(p.distance_m, code)} · {pace}/km · {lang._(STATUS_WORDS.get(p.status, p.status))}",
        "kpi-schedule": plan if p.status == "running" else waiting_text(snap, lang),
        "kpi-started": integer(snap.counts["started"], code),
        "kpi-ahead": integer(snap.counts["ahead"], code),
        "kpi-caught": integer(snap.counts["caught"], code),
        "kpi-won": integer(snap.counts["won"], code),
        # nobody has started: no forecast to make yet
        "kpi-forecast": (
            forecast
            + quota
            + (lang._(" · at his plan {n}", n=integer(f.at_plan, code)) if f.at_plan is not None else "")
        )
        if snap.counts["started"]
        else "–",
    }


MARGIN_BINS_S = np.arange(-300, 301, 20)
RUNNING = ("started", "safe", "at_risk", "doomed")


def _base_layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 20}},
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        font={"size": 15},
        showlegend=False,
        uirevision="panel",
    )
    return fig


def margin_histogram(snap: Snapshot, lang: Language = ENGLISH) -> go.Figure:
    """Predicted finish margins of the runners still out on the course, clipped to ±5 min, coloured
    by side: who is predicted to win and who to be caught."""
    classes = snap.margin_class
    running = np.isin(classes, [CLASSES.index(c) for c in RUNNING]) if classes is not None else np.ones(0, bool)
    margin = np.asarray(snap.margin_s, dtype=float)[running] if classes is not None else np.zeros(0)
    margin = np.clip(margin[np.isfinite(margin)], MARGIN_BINS_S[0], MARGIN_BINS_S[-1] - 1)
    counts, edges = np.histogram(margin, bins=MARGIN_BINS_S)
    centres = (edges[:-1] + edges[1:]) / 2
    colours = [CLASS_COLOURS["safe"] if c > 0 else CLASS_COLOURS["doomed"] for c in centres]
    fig = go.Figure(go.Bar(x=centres, y=counts, marker={"color": colours}, width=18, hovertemplate="%{x:+.0f} s: %{y}"))
    fig.update_xaxes(title_text=lang._("predicted finish margin (s) — right of 0 wins"), zeroline=True, zerolinewidth=3)
    fig.update_yaxes(title_text=lang._("runners"))
    if not running.any():  # an empty frame would look like a chart that failed: say why it is empty
        why = lang._("every runner has won, been caught or stopped")
        if not snap.counts.get("started"):
            why = lang._("no runner has started yet")
        fig.add_annotation(text=why, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 18})
        fig.update_yaxes(showticklabels=False, zeroline=False)
    n = integer(int(running.sum()), lang.code)
    return _base_layout(fig, lang._("Margins of the {n} runners on the course", n=n))


def pen_forecast_figure(race: Race, snap: Snapshot, lang: Language = ENGLISH) -> go.Figure:
    """Per pen: winners so far (gold) and the forecast (green) with its low–high band."""
    by_pen = snap.forecast.by_pen if snap.forecast is not None else {}
    names = [p.name for p in race.pens]
    row = [by_pen.get(p.id, {}) for p in race.pens]
    won = [int(r.get("won", 0)) for r in row]
    expected = [int(r.get("winners", 0)) for r in row]
    low = [int(r.get("low", 0)) for r in row]
    high = [int(r.get("high", 0)) for r in row]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=expected,
                name=lang._("forecast"),
                marker={"color": CLASS_COLOURS["safe"]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "thickness": 2,
                    "array": [h - e for h, e in zip(high, expected, strict=True)],
                    "arrayminus": [e - lo for e, lo in zip(expected, low, strict=True)],
                },
                text=[
                    lang._("{n} of {of}", n=integer(e, lang.code), of=integer(int(r.get("runners", 0)), lang.code))
                    for e, r in zip(expected, row, strict=True)
                ],
                textposition="outside",
                hovertemplate="%{x}: %{y} " + lang._("expected"),
            ),
            go.Bar(
                x=names,
                y=won,
                name=lang._("won"),
                marker={"color": CLASS_COLOURS["won"]},
                hovertemplate="%{x}: %{y} " + lang._("won"),
            ),
        ]
    )
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(title_text=lang._("winners"))
    return _base_layout(fig, lang._("Winners per pen: forecast (band) and so far"))


def forecast_history_figure(
    race: Race, history: list[tuple[float, int, int, int, int | None]], lang: Language = ENGLISH
) -> go.Figure:
    """The forecast of winners over race time: the count (sum of the win probabilities), its band, the
    count if the pursuer holds his plan, and the quota."""
    fig = go.Figure()
    if history:
        first = history[0][0]
        t = [(h[0] - first) / 60.0 for h in history]
        fig.add_trace(
            go.Scatter(
                x=t, y=[h[3] for h in history], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
            )
        )
        fig.add_trace(
            go.Scatter(
                x=t,
                y=[h[2] for h in history],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(46,160,67,0.25)",
                name=lang._("band"),
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=t,
                y=[h[1] for h in history],
                mode="lines",
                name=lang._("forecast"),
                line={"color": CLASS_COLOURS["safe"]},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=t,
                y=[h[4] for h in history],
                mode="lines",
                name=lang._("at his plan"),
                line={"dash": "dot", "color": "#888"},
            )
        )
    if race.quota is not None:
        fig.add_hline(y=race.quota, line={"color": "firebrick", "dash": "dash"})
    fig.update_xaxes(title_text=lang._("minutes"))
    fig.update_yaxes(title_text=lang._("winners"), rangemode="tozero")
    title = lang._("Forecast of winners over the race")
    if race.quota:
        title += lang._(" (quota {quota})", quota=integer(race.quota, lang.code))
    return _base_layout(fig, title)


def next_to_be_caught(race: Race, snap: Snapshot, limit: int = 10, lang: Language = ENGLISH) -> list[dict[str, str]]:
    """The runners the pursuer will reach next: bib, name, pen, where and in how long."""
    catch_in = np.asarray(snap.catch_in_s, dtype=float)
    running = np.isin(snap.status, [STATUSES.index("started"), STATUSES.index("ahead")])
    rows = np.flatnonzero(running & np.isfinite(catch_in) & (catch_in >= 0))
    rows = rows[np.argsort(catch_in[rows], kind="stable")][:limit]
    out = []
    for row in rows:
        bib = str(snap.bibs[row])
        person = race.participant(bib)
        out.append(
            {
                "bib": bib,
                "name": person.name if person else "",
                "pen": str(snap.pens[row]),
                "at": km(float(snap.catch_at_m[row]), lang.code),
                "in": format_duration(float(catch_in[row])),
                "gap": f"{decimal(float(snap.gap_m[row]), 0, lang.code)} m",
            }
        )
    return out
