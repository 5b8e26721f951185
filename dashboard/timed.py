"""Race control's numbers for a race without a pursuer (the leader, runners on the course, finishers
per pen), and the table every race shows of winners (finishers) by sex and category against the
``[quotas]``. Pure: from the race and a snapshot to strings, rows and figures."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import CLASS_COLOURS, _base_layout, format_duration
from live.chase.places import counts_by
from live.chase.snapshot import AHEAD, FINISHED, REGISTERED, STARTED, WON, Snapshot
from live.race.race import Race

KPIS = (
    ("kpi-clock", "race clock"),
    ("kpi-leader", "leader on the course"),
    ("kpi-started", "started"),
    ("kpi-running", "running"),
    ("kpi-finished", "finished"),
    ("kpi-dnf", "stopped (DNF)"),
)
LEADER_COLUMNS = (("bib", "bib"), ("name", "name"), ("pen", "pen"), ("at", "at"))
GROUP_COLUMNS = ("group", "runners", "done", "running", "quota")


def kpi_texts(race: Race, snap: Snapshot) -> dict[str, str]:
    """The KPI strip, as plain strings."""
    leaders = leaders_on_course(race, snap, 1)
    c = snap.counts
    return {
        "kpi-clock": format_duration(snap.elapsed_s),
        "kpi-leader": f"{leaders[0]['bib']} {leaders[0]['name']} · {leaders[0]['at']}" if leaders else "–",
        "kpi-started": f"{c['started']:,}",
        "kpi-running": f"{c.get('running', 0):,}",
        "kpi-finished": f"{c.get('finished', 0):,}",
        "kpi-dnf": f"{c['dnf'] + c['dq']:,}",
    }


def leaders_on_course(race: Race, snap: Snapshot, limit: int = 10) -> list[dict[str, str]]:
    """The runners furthest along who have not finished: bib, name, pen, where."""
    rows = np.flatnonzero(snap.status == STARTED)
    rows = rows[np.argsort(-snap.distance_m[rows], kind="stable")][:limit]
    out = []
    for row in rows:
        person = race.participant(str(snap.bibs[row]))
        out.append(
            {
                "bib": str(snap.bibs[row]),
                "name": person.name if person else "",
                "pen": str(snap.pens[row]),
                "at": f"{snap.distance_m[row] / 1000:.2f} km",
            }
        )
    return out


def field_figure(race: Race, snap: Snapshot) -> go.Figure:
    """Where the runners still running are, by kilometre."""
    running = snap.distance_m[snap.status == STARTED]
    edges = np.arange(0.0, race.distance_m / 1000 + 1.0, 1.0)
    counts, _ = np.histogram(running / 1000, bins=edges)
    fig = go.Figure(
        go.Bar(
            x=edges[:-1] + 0.5,
            y=counts,
            width=0.9,
            marker={"color": CLASS_COLOURS["started"]},
            hovertemplate="km %{x:.1f}: %{y}",
        )
    )
    fig.update_xaxes(title_text="km")
    fig.update_yaxes(title_text="runners")
    if not len(running):
        why = "no runner has started yet" if not snap.counts.get("started") else "nobody is on the course"
        fig.add_annotation(text=why, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 18})
    return _base_layout(fig, f"The {len(running):,} runners on the course")


def pen_progress_figure(race: Race, snap: Snapshot) -> go.Figure:
    """Per pen: finished, running and not started."""
    names = [p.name for p in race.pens]
    bars = []
    for code, label, colour in (
        (FINISHED, "finished", CLASS_COLOURS["finished"]),
        (STARTED, "running", CLASS_COLOURS["started"]),
        (REGISTERED, "not started", CLASS_COLOURS["registered"]),
    ):
        y = [int(np.count_nonzero((snap.pens == p.id) & (snap.status == code))) for p in race.pens]
        bars.append(go.Bar(x=names, y=y, name=label, marker={"color": colour}, hovertemplate=f"%{{x}}: %{{y}} {label}"))
    fig = go.Figure(bars)
    fig.update_layout(barmode="stack", showlegend=True)
    fig.update_yaxes(title_text="runners")
    out = _base_layout(fig, "Per pen: finished, running, not started")
    out.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.2})
    return out


def group_rows(race: Race, snap: Snapshot) -> list[list[str]]:
    """One row per sex and per category: runners, winners (finishers), still running, quota."""
    people = race.runners
    sexes = np.array([p.sex for p in people], dtype=object)
    categories = np.array([p.category for p in people], dtype=object)
    timed = race.pursuer is None
    done = snap.status == (FINISHED if timed else WON)
    running = (snap.status == STARTED) | (snap.status == AHEAD)
    table = counts_by(sexes, categories, done, running, race.quotas, "done")
    rows = []
    for group, labels in table.items():
        for label, c in labels.items():
            quota, done = c["quota"], c["done"] or 0
            against = (
                "–"
                if quota is None
                else f"{quota:,}" + (" ✓ reached" if done >= quota else f" ({quota - done:,} to go)")
            )
            rows.append(
                [f"{group} {label or '(none)'}", f"{c['runners']:,}", f"{done:,}", f"{c['running']:,}", against]
            )
    return rows


def group_header(race: Race) -> list[str]:
    """The category table's header: winners in a chase, finishers in a race without a pursuer."""
    done = "finished" if race.pursuer is None else "won"
    return [done if h == "done" else h for h in GROUP_COLUMNS]
