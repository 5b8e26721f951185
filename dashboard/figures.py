"""Figures of the dashboard, built from the race and a snapshot. Pure: no Dash, no I/O.

The map is a cartesian figure in projected metres (``Course.xy_at``): no tiles, no glyph server,
so it renders the same with or without internet. The runners are one WebGL trace coloured by
status, so tens of thousands of dots stay cheap to redraw; per tick only their x/y/colour arrays
and the pursuer's point change.
"""

from __future__ import annotations

import zlib

import numpy as np
import plotly.graph_objects as go

from live.race import Race
from live.snapshot import STATUSES, Snapshot

STATUS_COLOURS = {
    "registered": "#b0b7c3",
    "started": "#4c78a8",
    "ahead": "#2ca02c",
    "caught": "#d62728",
    "won": "#f2b700",
    "dnf": "#555555",
    "dq": "#555555",
}
COLOUR_OF_CODE = np.array([STATUS_COLOURS[s] for s in STATUSES], dtype=object)
LATERAL_SPREAD_M = 9.0  # half the width a pack of runners takes on one carriageway
RUNNERS_TRACE = 3
PURSUER_TRACE = 4
LANDMARKS = {"Arc de Triomphe": (48.87389, 2.29472), "Place de la Concorde": (48.8656, 2.3212)}


def lateral_offsets(bibs: np.ndarray) -> np.ndarray:
    """A stable sideways offset per runner (metres), so a crowd looks like a crowd."""
    h = np.array([zlib.crc32(str(b).encode()) for b in bibs], dtype=np.uint32)
    return (h / np.float64(2**32) * 2.0 - 1.0) * LATERAL_SPREAD_M


def positions_xy(race: Race, distance_m: np.ndarray, offset_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projected x/y of runners at course distances, pushed sideways by ``offset_m``."""
    x, y = race.course.xy_at(distance_m)
    xa, ya = race.course.xy_at(np.maximum(distance_m - 2.0, 0.0))
    xb, yb = race.course.xy_at(np.minimum(distance_m + 2.0, race.distance_m))
    dx, dy = xb - xa, yb - ya
    norm = np.hypot(dx, dy)
    norm[norm == 0] = 1.0
    return x + dy / norm * offset_m, y - dx / norm * offset_m


def map_figure(race: Race) -> go.Figure:
    """The static map: avenue, course, mats, landmarks, and empty runner and pursuer traces."""
    course_d = np.linspace(0.0, race.distance_m, 600)
    cx, cy = race.course.xy_at(course_d)
    mat_d = np.array([m.at_m[0] for m in race.mats])
    mx, my = race.course.xy_at(mat_d)
    fig = go.Figure(
        [
            go.Scatter(
                x=cx,
                y=cy,
                mode="lines",
                line={"color": "#e3e6ea", "width": 28},
                hoverinfo="skip",
                name="avenue",
                showlegend=False,
            ),
            go.Scatter(
                x=cx,
                y=cy,
                mode="lines",
                line={"color": "#8a94a3", "width": 2},
                hoverinfo="skip",
                name="course",
                showlegend=False,
            ),
            go.Scatter(
                x=mx,
                y=my,
                mode="markers+text",
                text=[m.id for m in race.mats],
                textposition="top center",
                marker={"symbol": "square", "size": 12, "color": "#34495e"},
                name="mats",
                hoverinfo="text",
                showlegend=False,
            ),
            go.Scattergl(
                x=[],
                y=[],
                mode="markers",
                marker={"size": 5, "color": []},
                name="runners",
                hoverinfo="text",
                text=[],
                showlegend=False,
            ),
            go.Scatter(
                x=[],
                y=[],
                mode="markers+text",
                text=[],
                textposition="bottom center",
                marker={"symbol": "star", "size": 26, "color": "#111111", "line": {"color": "#ffffff", "width": 2}},
                textfont={"size": 18, "color": "#111111"},
                name="pursuer",
                showlegend=False,
            ),
        ]  # fmt: skip
    )
    for status in ("ahead", "caught", "won", "started", "registered"):  # legend only
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", marker={"size": 12, "color": STATUS_COLOURS[status]}, name=status
            )
        )
    for label, (lat, lon) in LANDMARKS.items():
        (lx,), (ly,) = race.course.project(np.array([lat]), np.array([lon]))
        fig.add_annotation(x=lx, y=ly, text=label, showarrow=False, font={"size": 16, "color": "#5d6d7e"}, yshift=-22)
    fig.update_layout(
        uirevision="course",
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        plot_bgcolor="#f7f8fa",
        paper_bgcolor="#f7f8fa",
        legend={"orientation": "h", "x": 0.01, "y": 0.99, "font": {"size": 16}},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1},
        dragmode="pan",
    )
    return fig


def runner_arrays(race: Race, snap: Snapshot, offsets: np.ndarray) -> dict[str, list]:
    """The per-tick arrays of the runners trace."""
    x, y = positions_xy(race, snap.distance_m, offsets)
    return {
        "x": np.round(x, 1).tolist(),
        "y": np.round(y, 1).tolist(),
        "color": COLOUR_OF_CODE[snap.status.astype(int)].tolist(),
    }


def pursuer_point(race: Race, snap: Snapshot) -> dict[str, list]:
    """The pursuer's marker: position and label."""
    (x,), (y,) = race.course.xy_at(np.array([snap.pursuer.distance_m]))
    return {"x": [round(float(x), 1)], "y": [round(float(y), 1)], "text": [race.pursuer.name]}


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def kpi_texts(race: Race, snap: Snapshot) -> dict[str, str]:
    """The KPI strip, as plain strings (rendered as text, never HTML)."""
    p = snap.pursuer
    pace = format_duration(p.pace_s_per_km)
    f = snap.forecast
    quota = f" / quota {f.quota:,}" if f.quota is not None else ""
    return {
        "kpi-clock": format_duration(snap.elapsed_s),
        "kpi-pursuer": f"{p.distance_m / 1000:.2f} km · {pace}/km · {p.status}",
        "kpi-started": f"{snap.counts['started']:,}",
        "kpi-ahead": f"{snap.counts['ahead']:,}",
        "kpi-caught": f"{snap.counts['caught']:,}",
        "kpi-won": f"{snap.counts['won']:,}",
        "kpi-forecast": f"{f.winners:,} ({f.low:,}–{f.high:,}){quota}",
    }
