"""Race control at ``/``: the live map of the course, the pursuer, and the counts.

A Dash app on the web process's FastAPI server. A ``dcc.Interval`` ticks every second and one
callback returns a ``Patch`` with only the runner arrays, the pursuer point and the KPI texts;
the figure never travels back to Python.
"""

from __future__ import annotations

from collections.abc import Callable

from dash import Dash, Input, Output, Patch, dcc, html
from fastapi import FastAPI

from dashboard.figures import (
    PURSUER_TRACE,
    RUNNERS_TRACE,
    kpi_texts,
    lateral_offsets,
    map_figure,
    pursuer_point,
    runner_arrays,
)
from live.race import Race
from live.snapshot import Snapshot

TICK_MS = 1000
KPIS = (
    ("kpi-clock", "race clock"),
    ("kpi-pursuer", "pursuer"),
    ("kpi-started", "started"),
    ("kpi-ahead", "ahead"),
    ("kpi-caught", "caught"),
    ("kpi-won", "won"),
    ("kpi-forecast", "forecast winners"),
)


def create_dashboard(server: FastAPI, race: Race, get_snapshot: Callable[[], Snapshot | None]) -> Dash:
    """Mount race control on ``server`` (call after the API routes are added)."""
    app = Dash(__name__, server=server, title=f"pursuit — {race.name}", update_title=None, serve_locally=True)
    offsets = lateral_offsets([p.bib for p in race.participants if p.bib != race.pursuer.bib])  # type: ignore[arg-type]

    app.layout = html.Div(
        [
            html.Div(
                [
                    html.H1(race.name, className="title"),
                    html.Div("waiting for data", id="status-line", className="status"),
                ],
                className="header",
            ),
            html.Div(
                [
                    html.Div(
                        [html.Div("–", id=kpi_id, className="kpi-value"), html.Div(label, className="kpi-label")],
                        className="kpi",
                    )
                    for kpi_id, label in KPIS
                ],  # fmt: skip
                className="kpis",
            ),
            dcc.Graph(
                id="map", figure=map_figure(race), config={"displaylogo": False, "scrollZoom": True}, className="map"
            ),
            dcc.Interval(id="tick", interval=TICK_MS),
        ],
        className="page",
    )

    @app.callback(
        Output("map", "figure"),
        Output("status-line", "children"),
        *(Output(kpi_id, "children") for kpi_id, _ in KPIS),
        Input("tick", "n_intervals"),
    )
    def update(_n: int | None) -> tuple:
        snap = get_snapshot()
        if snap is None:
            return (Patch(), "waiting for data", *("–" for _ in KPIS))
        patch = Patch()
        arrays = runner_arrays(race, snap, offsets)
        patch["data"][RUNNERS_TRACE]["x"] = arrays["x"]
        patch["data"][RUNNERS_TRACE]["y"] = arrays["y"]
        patch["data"][RUNNERS_TRACE]["marker"]["color"] = arrays["color"]
        point = pursuer_point(race, snap)
        patch["data"][PURSUER_TRACE]["x"] = point["x"]
        patch["data"][PURSUER_TRACE]["y"] = point["y"]
        patch["data"][PURSUER_TRACE]["text"] = point["text"]
        texts = kpi_texts(race, snap)
        return (patch, "live", *(texts[kpi_id] for kpi_id, _ in KPIS))

    return app
