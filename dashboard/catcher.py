"""Race control for a catcher-car race (``[race] outcome = "distance"``): the car's km and speed, the
count still running, and the milestone forecast instead of winners against a quota; a histogram of
catch distances (caught, and predicted for those still running) instead of the margins."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import CLASS_COLOURS, _base_layout
from i18n.catalogue import ENGLISH, N_, Language
from i18n.numbers import integer, km, percent
from live.chase.snapshot import Snapshot
from live.race.race import Race

# the KPI strip's labels that differ from a chase's (the values: ``kpi_texts``)
KPI_LABELS = {"kpi-ahead": N_("still running"), "kpi-won": N_("car speed"), "kpi-forecast": N_("next milestone")}
CATCH_BIN_M = 2000.0


def kpi_texts(race: Race, snap: Snapshot, lang: Language = ENGLISH) -> dict[str, str]:
    """The KPIs a catcher-car race shows instead of the winners': the car's speed, the runners still
    running, and the forecast count at the next milestone the car has not reached."""
    p = snap.chase()[0]
    speed = 3600.0 / p.pace_s_per_km if p.pace_s_per_km else 0.0
    code = lang.code
    status = {"waiting": N_("waiting"), "running": N_("running"), "finished": N_("finished")}.get(p.status, p.status)
    out = {
        "kpi-pursuer": f"{km(p.distance_m, code)} · {integer(speed, code)} km/h · {lang._(status)}",
        "kpi-ahead": integer(snap.counts.get("running", 0), code),
        "kpi-won": f"{integer(speed, code)} km/h",
        "kpi-forecast": "–",
    }
    ahead = [m for m in snap.chase()[1].milestones or [] if m["at_m"] > p.distance_m]
    if ahead and snap.counts.get("started"):
        m = ahead[0]
        out["kpi-forecast"] = lang._(
            "{n} running at {km} ({low}–{high} at {level})",
            n=integer(m["expected"], code),
            km=km(m["at_m"], code, 0),
            low=integer(m["low"], code),
            high=integer(m["high"], code),
            level=percent(snap.chase()[1].level, code),
        )
    elif snap.chase()[1].milestones:
        out["kpi-forecast"] = lang._("the car is past every milestone")
    return out


def milestone_figure(race: Race, snap: Snapshot, lang: Language = ENGLISH) -> go.Figure:
    """Per milestone: the count still running there, as counted once the car is past it (gold), else
    forecast (green) with its band."""
    milestones = snap.chase()[1].milestones or []
    names = [km(m["at_m"], lang.code, 0) for m in milestones]
    passed = [m["at_m"] <= snap.chase()[0].distance_m for m in milestones]
    expected = [float(m["expected"]) for m in milestones]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=expected,
            marker={"color": [CLASS_COLOURS["won"] if done else CLASS_COLOURS["safe"] for done in passed]},
            error_y={
                "type": "data",
                "symmetric": False,
                "thickness": 2,
                "array": [m["high"] - m["expected"] for m in milestones],
                "arrayminus": [m["expected"] - m["low"] for m in milestones],
            },
            text=[
                integer(e, lang.code) + (lang._(" (counted)") if done else "")
                for e, done in zip(expected, passed, strict=True)
            ],
            textposition="outside",
            hovertemplate="%{x}: %{y:,.0f} " + lang._("still running"),
        )
    )
    fig.update_yaxes(title_text=lang._("runners still running"))
    level = percent(snap.chase()[1].level, lang.code)
    return _base_layout(fig, lang._("Still running at each milestone ({level} band)", level=level))


def catch_histogram(snap: Snapshot, lang: Language = ENGLISH) -> go.Figure:
    """Where the car passed the runners it caught (red) and where it is predicted to pass those still
    running (green), by 2 km."""
    caught = snap.caught_at_m if snap.caught_at_m is not None else np.zeros(0)
    predicted = snap.predicted_catch_m if snap.predicted_catch_m is not None else np.zeros(0)
    caught, predicted = caught[np.isfinite(caught)], predicted[np.isfinite(predicted)]
    top = max([CATCH_BIN_M * 10, *caught.tolist(), *predicted.tolist()])
    bins = np.arange(0.0, top + CATCH_BIN_M, CATCH_BIN_M)
    centres = (bins[:-1] + bins[1:]) / 2000.0
    fig = go.Figure(
        [
            go.Bar(
                x=centres,
                y=np.histogram(caught, bins)[0],
                marker={"color": CLASS_COLOURS["caught"]},
                name=lang._("caught"),
                hovertemplate="%{x:.0f} km: %{y} " + lang._("caught"),
            ),
            go.Bar(
                x=centres,
                y=np.histogram(predicted, bins)[0],
                marker={"color": CLASS_COLOURS["safe"]},
                name=lang._("predicted"),
                hovertemplate="%{x:.0f} km: %{y} " + lang._("predicted"),
            ),
        ]
    )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text=lang._("catch distance (km)"))
    fig.update_yaxes(title_text=lang._("runners"))
    title = lang._(
        "Catch distances: {caught} caught, {predicted} predicted",
        caught=integer(len(caught), lang.code),
        predicted=integer(len(predicted), lang.code),
    )
    return _base_layout(fig, title)


def running_history_figure(
    history: list[tuple[float, int, int, int, int | None]], lang: Language = ENGLISH
) -> go.Figure:
    """The count still running over race time (the engine's history of a catcher-car race)."""
    fig = go.Figure()
    if history:
        first = history[0][0]
        minutes = [(h[0] - first) / 60.0 for h in history]
        line = {"color": CLASS_COLOURS["safe"]}
        fig.add_trace(
            go.Scatter(x=minutes, y=[h[1] for h in history], mode="lines", name=lang._("still running"), line=line)
        )
    fig.update_xaxes(title_text=lang._("minutes"))
    fig.update_yaxes(title_text=lang._("runners"), rangemode="tozero")
    return _base_layout(fig, lang._("Runners still running over the race"))
