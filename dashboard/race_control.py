"""Race control (``/``): the big screen. The map moves in the browser; a server callback a second
fills the KPI strip, the margin histogram, the per-pen forecast and "next to be caught" (a handful
of screens, so a Python callback each is fine). Mat health and alerts come from the browser too; so
does the console (``dashboard/console.py``), where a signed-in operator acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import Dash, Input, Output, dcc, html

from dashboard import catcher, console, timed
from dashboard import language as languages
from dashboard.figures import (
    forecast_history_figure,
    kpi_texts,
    map_figure,
    margin_histogram,
    next_to_be_caught,
    pen_forecast_figure,
)
from i18n.catalogue import N_, Language
from live.chase.snapshot import Snapshot
from live.race.race import Race

TICK_MS = 1000
KPIS = (
    ("kpi-clock", N_("race clock")),
    ("kpi-pursuer", N_("pursuer")),
    ("kpi-schedule", N_("pursuer vs plan")),
    ("kpi-started", N_("started")),
    ("kpi-ahead", N_("ahead")),
    ("kpi-caught", N_("caught")),
    ("kpi-won", N_("won")),
    ("kpi-forecast", N_("forecast winners")),
)
NEXT_COLUMNS = (
    ("bib", N_("bib")),
    ("name", N_("name")),
    ("pen", N_("pen")),
    ("at", N_("caught at")),
    ("in", N_("in")),
    ("gap", N_("gap")),
)
GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True}


def map_graph(race: Race, lang: Language) -> dcc.Graph:
    """The course map; ``assets/pursuit.js`` fills and moves its runner traces."""
    return dcc.Graph(id="map", figure=map_figure(race, lang), config=GRAPH_CONFIG, className="map")  # type: ignore[arg-type]


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


def layout(race: Race, lang: Language) -> html.Div:
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
                        [
                            html.Div("–", id=kpi_id, className="kpi-value"),
                            html.Div(lang._(label), className="kpi-label"),
                        ],
                        className="kpi",
                    )
                    for kpi_id, label in kpis(race)
                ],
                className="kpis",
            ),
            html.Div(
                [
                    html.Div(map_graph(race, lang), className="panel panel-map"),
                    html.Div(charts, className="panel panel-charts"),
                ],
                className="row row-main",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.H2(lang._("Next to be caught") if chase else lang._("Leaders on the course")),
                            html.Div(id="next-caught"),
                            html.H2(
                                lang._("By sex and category (winners)")
                                if chase
                                else lang._("By sex and category (finishers)")
                            ),
                            html.Div(id="group-table"),
                        ],
                        className="panel",
                    ),
                    html.Div(
                        [
                            html.H2(lang._("Mats")),
                            html.Div(id="mat-table", children=lang._("waiting for /api/mats")),
                            html.H2(lang._("Readers with refused input")),
                            html.Div(id="reader-errors", children=lang._("waiting for /api/readers")),
                        ],
                        className="panel panel-mats",
                        tabIndex="0",  # scrolls sideways on a phone: reachable by keyboard
                    ),
                    html.Div(
                        [
                            html.H2(
                                [
                                    lang._("Alerts") + " ",
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
            console.panel(lang),
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
        snap, lang = get_snapshot(), languages.current(race.language)
        if snap is None:
            waiting = lang._("waiting for the first tick")
            empty = {"data": [], "layout": {"title": {"text": waiting}}}
            return (*("–" for _ in KPIS), empty, empty, empty, waiting, "–")
        texts = kpi_texts(race, snap, lang)
        if race.by_distance:  # a catcher-car race: the car and the milestones, not winners against a quota
            texts |= catcher.kpi_texts(race, snap, lang)
        rows = next_to_be_caught(race, snap, lang=lang)
        nxt = (
            table([lang._(h) for _, h in NEXT_COLUMNS], [[r[k] for k, _ in NEXT_COLUMNS] for r in rows], "next-table")
            if rows
            else lang._("nobody ahead of the pursuer is projected to be caught")
        )
        return (
            *(texts[kpi_id] for kpi_id, _ in KPIS),
            catcher.catch_histogram(snap, lang) if race.by_distance else margin_histogram(snap, lang),
            catcher.milestone_figure(race, snap, lang) if race.by_distance else pen_forecast_figure(race, snap, lang),
            catcher.running_history_figure(get_history(), lang)
            if race.by_distance
            else forecast_history_figure(race, get_history(), lang),
            nxt,
            table(timed.group_header(race, lang), timed.group_rows(race, snap, lang), "group-rows"),
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
        snap, lang = get_snapshot(), languages.current(race.language)
        if snap is None:
            waiting = lang._("waiting for the first tick")
            empty = {"data": [], "layout": {"title": {"text": waiting}}}
            return (*("–" for _ in timed.KPIS), empty, empty, waiting, "–")
        texts = timed.kpi_texts(race, snap, lang)
        rows = timed.leaders_on_course(race, snap, lang=lang)
        cols = timed.LEADER_COLUMNS
        leaders = (
            table([lang._(h) for _, h in cols], [[r[k] for k, _ in cols] for r in rows], "next-table")
            if rows
            else lang._("nobody on the course")
        )
        return (
            *(texts[kpi_id] for kpi_id, _ in timed.KPIS),
            timed.field_figure(race, snap, lang),
            timed.pen_progress_figure(race, snap, lang),
            leaders,
            table(timed.group_header(race, lang), timed.group_rows(race, snap, lang), "group-rows"),
        )
