"""The dashboard: race control at ``/``, spectators at ``/follow``, commentators at ``/commentary``.

One Dash app on the web process's FastAPI server. Every page shares a shell: the header with the
navigation and the connection state, and ``#race-meta``, which carries what the browser needs to
draw the race (course samples, timing points, pens, colours) as data attributes. The live parts run
in the browser (``assets/pursuit.js``): it takes the snapshot and the sparse ticks of ``/ws/live``
and the events of ``/ws/events``, moves every runner between ticks and fills the map, the follow
cards and the commentary, so a spectator costs no Python callback at all. Race control, a handful
of screens, adds a server callback a second for its KPI strip, histogram, pen bars and table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from dash import Dash, Input, Output, dcc, html
from fastapi import FastAPI

from dashboard import commentary, follow, race_control
from dashboard.figures import CLASS_COLOURS, course_samples
from live.chase import CLASSES
from live.race import Race
from live.snapshot import Snapshot

ASSETS = Path(__file__).resolve().parent / "assets"
PAGES = (
    ("/", "Race control", race_control),
    ("/follow", "Follow runners", follow),
    ("/commentary", "Commentary", commentary),
)


def race_meta(race: Race) -> dict[str, object]:
    """What the browser needs to know about the race, once."""
    return {
        "id": race.id,
        "name": race.name,
        "distance_m": race.distance_m,
        "timing_at_m": sorted({tp.at_m for tp in race.timing_points}),
        "pens": [{"id": p.id, "name": p.name} for p in race.pens],
        "pursuer": {"bib": race.pursuer.bib, "name": race.pursuer.name, "pace_s_per_km": race.pursuer.pace_s_per_km},
        "quota": race.quota,
        "classes": list(CLASSES),
        "colours": [CLASS_COLOURS[c] for c in CLASSES],
    }


def shell(race: Race) -> html.Div:
    """The frame every page shares."""
    return html.Div(
        [
            dcc.Location(id="url"),
            html.Div(
                id="race-meta",
                hidden=True,
                **{"data-race": json.dumps(race_meta(race)), "data-course": course_samples(race)},
            ),
            html.Div(
                [
                    html.H1(race.name, className="title"),
                    html.Nav(
                        [dcc.Link(label, href=path, className="nav-link") for path, label, _ in PAGES],
                        className="nav",
                    ),
                    html.Div("connecting…", id="conn", className="conn conn-wait", role="status"),
                ],
                className="header",
            ),
            html.Div(id="page"),
        ],
        className="shell",
    )


def create_dashboard(server: FastAPI, race: Race, get_snapshot: Callable[[], Snapshot | None]) -> Dash:
    """Mount the three pages on ``server`` (call after the API routes are added)."""
    app = Dash(
        __name__,
        server=server,
        title=f"pursuit — {race.name}",
        update_title=None,
        serve_locally=True,
        assets_folder=str(ASSETS),  # absolute: Dash would resolve it against whatever module it sees as the caller
        suppress_callback_exceptions=True,  # each page's components exist only on that page
    )
    app.layout = shell(race)
    layouts = {path: module.layout(race) for path, _, module in PAGES}

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def route(pathname: str | None) -> html.Div:
        return layouts.get(pathname or "/", layouts["/"])

    race_control.register(app, race, get_snapshot)
    # Dash's FastAPI backend sets itself up (finds the assets, builds the script tags) on the first
    # request to "/" or "/_dash-*" only: a first visitor on /follow after a restart would get a page
    # without pursuit.js. Set it up now, with the layout and callbacks in place.
    app._setup_server()
    return app
