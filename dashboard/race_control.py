"""Race control (``/``): the big screen. The map moves in the browser; a server callback a second
fills the KPI strip, the margin histogram, the per-pen forecast and "next to be caught" (a handful
of screens, so a Python callback each is fine). Mat health and alerts come from the browser too; so
does the console (``dashboard/console.py``), where a signed-in operator acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import Dash, Input, Output, dcc, html

from dashboard import catcher, console, timed
from dashboard.figures import (
    forecast_history_figure,
    kpi_texts,
    map_figure,
    margin_histogram,
    next_to_be_caught,
    pen_forecast_figure,
)
from live.chase.snapshot import Snapshot
from live.race.race import Race

TICK_MS = 1000
KPIS = (
    ("kpi-clock", "race clock"),
    ("kpi-pursuer", "pursuer"),
    ("kpi-schedule", "pursuer vs plan"),
    ("kpi-started", "started"),
    ("kpi-ahead", "ahead"),
    ("kpi-caught", "caught"),
    ("kpi-won", "won"),
    ("kpi-forecast", "forecast winners"),
)
NEXT_COLUMNS = (("bib", "bib"), ("name", "name"), ("pen", "pen"), ("at", "caught at"), ("in", "in"), ("gap", "gap"))
GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True}


def map_graph(race: Race) -> dcc.Graph:
    """The course map; ``assets/pursuit.js`` fills and moves its runner traces."""
    return dcc.Graph(id="map", figure=map_figure(race), config=GRAPH_CONFIG, className="map")  # type: ignore[arg-type]


def table(header: list[str], rows: list[list[str]], table_id: str) -> html.Table:
    """A plain table; every cell is text."""
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in header])),
            html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows]),
        ],
        id=table_id,
        className="table",
    )


def kpis(race: Race) -> tuple[tuple[str, str], ...]:
    """The KPI strip's ids and labels: a chase's, or a race without a pursuer's (``dashboard.timed``)."""
    if race.pursuer is None:
        return timed.KPIS
    if race.by_distance:  # a catcher-car race: the car and the milestones, not winners against a quota
        return tuple((k, catcher.KPI_LABELS.get(k, v)) for k, v in KPIS)
    return KPIS


def layout(race: Race) -> html.Div:
    chase = race.pursuer is not None
    charts = [
        dcc.Graph(id="margins", config={"displayModeBar": False}, className="chart"),
        dcc.Graph(id="pens", config={"displayModeBar": False}, className="chart"),
    ]
    if chase:
        charts.append(dcc.Graph(id="forecast-history", config={"displayModeBar": False}, className="chart"))
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [html.Div("–", id=kpi_id, className="kpi-value"), html.Div(label, className="kpi-label")],
                        className="kpi",
                    )
                    for kpi_id, label in kpis(race)
                ],
                className="kpis",
            ),
            html.Div(
                [
                    html.Div(map_graph(race), className="panel panel-map"),
                    html.Div(charts, className="panel panel-charts"),
                ],
                className="row row-main",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.H2("Next to be caught" if chase else "Leaders on the course"),
                            html.Div(id="next-caught"),
                            html.H2("By sex and category" + (" (winners)" if chase else " (finishers)")),
                            html.Div(id="group-table"),
                        ],
                        className="panel",
                    ),
                    html.Div(
                        [
                            html.H2("Mats"),
                            html.Div(id="mat-table", children="waiting for /api/mats"),
                            html.H2("Readers with refused input"),
                            html.Div(id="reader-errors", children="waiting for /api/readers"),
                        ],
                        className="panel panel-mats",
                        tabIndex="0",  # scrolls sideways on a phone: reachable by keyboard
                    ),
                    html.Div(
                        [
                            html.H2(
                                [
                                    "Alerts ",
                                    html.Span("", id="alert-count", className="badge"),
                                    html.Span(id="alerts-tools", className="alerts-tools"),  # the open-only filter
                                ]
                            ),
                            html.Ul(id="alerts", className="alerts"),
                        ],
                        className="panel panel-alerts",
                    ),
                ],
                className="row row-tables",
            ),
            console.panel(),
            dcc.Interval(id="tick", interval=TICK_MS),
        ],
        className="page page-control",
    )


def register(
    app: Dash,
    race: Race,
    get_snapshot: Callable[[], Snapshot | None],
    get_history: Callable[[], list[tuple[float, int, int, int, int | None]]] = list,
) -> None:
    """The race-control callback: one a second, only while a race-control page is open."""
    if race.pursuer is None:
        register_timed(app, race, get_snapshot)
        return

    @app.callback(
        *(Output(kpi_id, "children") for kpi_id, _ in KPIS),
        Output("margins", "figure"),
        Output("pens", "figure"),
        Output("forecast-history", "figure"),
        Output("next-caught", "children"),
        Output("group-table", "children"),
        Input("tick", "n_intervals"),
    )
    def update(_n: int | None) -> tuple[Any, ...]:
        snap = get_snapshot()
        if snap is None:
            empty = {"data": [], "layout": {"title": {"text": "waiting for the first tick"}}}
            return (*("–" for _ in KPIS), empty, empty, empty, "waiting for the first tick", "–")
        texts = kpi_texts(race, snap)
        if race.by_distance:  # a catcher-car race: the car and the milestones, not winners against a quota
            texts |= catcher.kpi_texts(race, snap)
        rows = next_to_be_caught(race, snap)
        nxt = (
            table([h for _, h in NEXT_COLUMNS], [[r[k] for k, _ in NEXT_COLUMNS] for r in rows], "next-table")
            if rows
            else "nobody ahead of the pursuer is projected to be caught"
        )
        return (
            *(texts[kpi_id] for kpi_id, _ in KPIS),
            catcher.catch_histogram(snap) if race.by_distance else margin_histogram(snap),
            catcher.milestone_figure(race, snap) if race.by_distance else pen_forecast_figure(race, snap),
            catcher.running_history_figure(get_history())
            if race.by_distance
            else forecast_history_figure(race, get_history()),
            nxt,
            table(timed.group_header(race), timed.group_rows(race, snap), "group-rows"),
        )


def register_timed(app: Dash, race: Race, get_snapshot: Callable[[], Snapshot | None]) -> None:
    """Race control's callback for a race without a pursuer: the leader and counts, the field by km,
    per pen, the leaders, finishers by sex and category."""

    @app.callback(
        *(Output(kpi_id, "children") for kpi_id, _ in timed.KPIS),
        Output("margins", "figure"),
        Output("pens", "figure"),
        Output("next-caught", "children"),
        Output("group-table", "children"),
        Input("tick", "n_intervals"),
    )
    def update(_n: int | None) -> tuple[Any, ...]:
        snap = get_snapshot()
        if snap is None:
            empty = {"data": [], "layout": {"title": {"text": "waiting for the first tick"}}}
            return (*("–" for _ in timed.KPIS), empty, empty, "waiting for the first tick", "–")
        texts = timed.kpi_texts(race, snap)
        rows = timed.leaders_on_course(race, snap)
        cols = timed.LEADER_COLUMNS
        leaders = (
            table([h for _, h in cols], [[r[k] for k, _ in cols] for r in rows], "next-table")
            if rows
            else "nobody on the course"
        )
        return (
            *(texts[kpi_id] for kpi_id, _ in timed.KPIS),
            timed.field_figure(race, snap),
            timed.pen_progress_figure(race, snap),
            leaders,
            table(timed.group_header(race), timed.group_rows(race, snap), "group-rows"),
        )
