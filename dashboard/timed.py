"""Race control's numbers for a race without a pursuer (the leader, runners on the course, finishers
per pen), and the table every race shows of winners (finishers) by sex and category against the
``[quotas]``. Pure: from the race and a snapshot to strings, rows and figures."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import CLASS_COLOURS, _base_layout, format_duration
from i18n.catalogue import ENGLISH, N_, Language
from i18n.numbers import integer, km
from live.chase.places import counts_by
from live.chase.snapshot import AHEAD, FINISHED, REGISTERED, STARTED, WON, Snapshot
from live.race.race import Race

KPIS = (
    ("kpi-clock", N_("race clock")),
    ("kpi-leader", N_("leader on the course")),
    ("kpi-started", N_("started")),
    ("kpi-running", N_("running")),
    ("kpi-finished", N_("finished")),
    ("kpi-dnf", N_("stopped (DNF)")),
)
LEADER_COLUMNS = (("bib", N_("bib")), ("name", N_("name")), ("pen", N_("pen")), ("at", N_("at")))
GROUP_COLUMNS = ("group", "runners", "done", "running", "quota")
GROUP_HEADERS = {"group": N_("group"), "runners": N_("runners"), "running": N_("running"), "quota": N_("quota")}
GROUP_WORDS = {"sex": N_("sex"), "category": N_("category")}


def kpi_texts(race: Race, snap: Snapshot, lang: Language = ENGLISH) -> dict[str, str]:
    """The KPI strip, as plain strings."""
    leaders = leaders_on_course(race, snap, 1, lang)
    c, code = snap.counts, lang.code
    return {
        "kpi-clock": format_duration(snap.elapsed_s),
        "kpi-leader": f"{leaders[0]['bib']} {leaders[0]['name']} · {leaders[0]['at']}" if leaders else "–",
        "kpi-started": integer(c["started"], code),
        "kpi-running": integer(c.get("running", 0), code),
        "kpi-finished": integer(c.get("finished", 0), code),
        "kpi-dnf": integer(c["dnf"] + c["dq"], code),
    }


def leaders_on_course(race: Race, snap: Snapshot, limit: int = 10, lang: Language = ENGLISH) -> list[dict[str, str]]:
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
                "at": km(float(snap.distance_m[row]), lang.code),
            }
        )
    return out


def field_figure(race: Race, snap: Snapshot, lang: Language = ENGLISH) -> go.Figure:
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
    fig.update_yaxes(title_text=lang._("runners"))
    if not len(running):
        why = (
            lang._("no runner has started yet") if not snap.counts.get("started") else lang._("nobody is on the course")
        )
        fig.add_annotation(text=why, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 18})
    return _base_layout(fig, lang._("The {n} runners on the course", n=integer(len(running), lang.code)))


def pen_progress_figure(race: Race, snap: Snapshot, lang: Language = ENGLISH) -> go.Figure:
    """Per pen: finished, running and not started."""
    names = [p.name for p in race.pens]
    bars = []
    for code, label, colour in (
        (FINISHED, lang._("finished"), CLASS_COLOURS["finished"]),
        (STARTED, lang._("running"), CLASS_COLOURS["started"]),
        (REGISTERED, lang._("not started"), CLASS_COLOURS["registered"]),
    ):
        y = [int(np.count_nonzero((snap.pens == p.id) & (snap.status == code))) for p in race.pens]
        bars.append(go.Bar(x=names, y=y, name=label, marker={"color": colour}, hovertemplate=f"%{{x}}: %{{y}} {label}"))
    fig = go.Figure(bars)
    fig.update_layout(barmode="stack", showlegend=True)
    fig.update_yaxes(title_text=lang._("runners"))
    out = _base_layout(fig, lang._("Per pen: finished, running, not started"))
    out.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.2})
    return out


def group_rows(race: Race, snap: Snapshot, lang: Language = ENGLISH) -> list[list[str]]:
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
            code = lang.code
            against = (
                "–"
                if quota is None
                else integer(quota, code)
                + (lang._(" ✓ reached") if done >= quota else lang._(" ({n} to go)", n=integer(quota - done, code)))
            )
            name = f"{lang._(GROUP_WORDS.get(group, group))} {label or lang._('(none)')}"
            rows.append([name, integer(c["runners"], code), integer(done, code), integer(c["running"], code), against])
    return rows


def group_header(race: Race, lang: Language = ENGLISH) -> list[str]:
    """The category table's header: winners in a chase, finishers in a race without a pursuer."""
    done = lang._("finished") if race.pursuer is None else lang._("won")
    return [done if h == "done" else lang._(GROUP_HEADERS[h]) for h in GROUP_COLUMNS]
