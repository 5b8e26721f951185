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
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from dash import Dash, Input, Output, dcc, html
from dash.backends._fastapi import reset_current_request, set_current_request
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from dashboard import commentary, follow, race_control
from dashboard import language as languages
from dashboard.figures import CLASS_COLOURS, CLASS_LABELS, CLASS_SHAPES, TIMED_LABELS, course_samples
from dashboard.map_data import BasemapAsset, race_labels
from dashboard.page_assets import assets_route, load_assets, with_assets
from dashboard.revalidate import Revalidated
from i18n.catalogue import LANGUAGES, N_, Language, language
from live.chase.chase import CLASSES
from live.chase.snapshot import Snapshot
from live.events import ALERT_KINDS, STORY_KINDS
from live.race.race import Race

ASSETS = Path(__file__).resolve().parent / "assets"
PAGES = (  # the header's links; /follow is a plain page (dashboard/follow.py), the others Dash's
    ("/", N_("Race control")),
    ("/follow", N_("Follow runners")),
    ("/commentary", N_("Commentary")),
)
DASH_PAGES = {"/": race_control, "/commentary": commentary}


BASEMAP_PATH = "/map/basemap.json"
SPECTATOR_PATHS = ("/follow", "/commentary")  # pages without race control's console
RACE_PREFIX = re.compile(r"^/races/[^/]+")


def map_meta(race: Race, basemap: BasemapAsset, base: str = "/") -> dict[str, object]:
    """What ``assets/map.js`` draws under the course: where to fetch the basemap (versioned, so it
    is cached for good), the race's own labels, the online tile layer if any, and the projection
    (the course's, ``Course.project``) that places tiles given in lon/lat."""
    lat0, lon0 = race.course.origin
    tiles = race.tiles
    return {
        "basemap": f"{base.rstrip('/')}{BASEMAP_PATH}?v={basemap.etag}" if basemap.body else None,
        "labels": race_labels(race),
        "origin": [round(lat0, 7), round(lon0, 7)],
        "tiles": {"url": tiles.url, "attribution": tiles.attribution, "max_zoom": tiles.max_zoom} if tiles else None,
    }


def race_meta(
    race: Race, basemap: BasemapAsset | None = None, base: str = "/", lang: Language | None = None
) -> dict[str, object]:
    """What the browser needs to know about the race, once; ``base``: the path its API and feeds are
    under (``""`` at the root, ``/races/10k`` for an event's other races)."""
    return {
        "id": race.id,
        "base": base.rstrip("/"),
        "name": race.name,
        "timezone": race.timezone.key,
        "distance_m": race.distance_m,
        "mats": [m.id for m in race.mats],
        "mat_names": {m.id: m.label for m in race.mats},
        "timing_at_m": sorted({tp.at_m for tp in race.timing_points}),
        "pens": [{"id": p.id, "name": p.name} for p in race.pens],
        "pursuer": {"bib": p.bib, "name": p.name, "pace_s_per_km": p.pace_s_per_km} if (p := race.pursuer) else None,
        "quota": race.quota,
        "quotas": race.quotas,
        "classes": list(CLASSES),
        "story_kinds": list(STORY_KINDS),
        "alert_kinds": list(ALERT_KINDS),
        "colours": [CLASS_COLOURS[c] for c in CLASSES],
        "shapes": [CLASS_SHAPES[c] for c in CLASSES],
        "class_labels": [(lang or language("en"))._(CLASS_LABELS.get(c) or TIMED_LABELS.get(c) or c) for c in CLASSES],
        "map": map_meta(race, basemap or BasemapAsset(race), base),
    }


def shell(
    race: Race, basemap: BasemapAsset, base: str = "/", event_view: str | None = None, lang: Language | None = None
) -> html.Div:
    """The frame every page shares, in ``lang``."""
    lang = lang or language(race.language)
    return html.Div(
        [
            dcc.Location(id="url"),
            html.Div(
                id="race-meta",
                hidden=True,
                **{"data-race": json.dumps(race_meta(race, basemap, base, lang)), "data-course": course_samples(race)},  # type: ignore[arg-type]
            ),
            html.Div(
                [
                    html.H1(race.name, className="title"),
                    html.Nav(
                        # whole page loads, not Dash's in-page routing: each page loads only its own scripts
                        [html.A(t, href=h, className="nav-link") for h, t in nav_links(lang, base, event_view)],
                        className="nav",
                    ),
                    languages.switch(lang),
                    html.Div(lang._("connecting…"), id="conn", className="conn conn-wait", role="status"),
                ],
                className="header",
            ),
            html.Div(id="page"),
        ],
        className="shell",
    )


def nav_links(lang: Language, base: str, event_view: str | None) -> list[tuple[str, str]]:
    """The header's links (href, label): the three pages, and the event's view of every race if any."""
    links = [(base + path[1:], lang._(label)) for path, label in PAGES]
    return links + ([(event_view, lang._("All races"))] if event_view else [])


def basemap_endpoint(basemap: BasemapAsset) -> Callable[[Request], Awaitable[Response]]:
    """``GET /map/basemap.json``: the drawn basemap (gzipped by the app's middleware), cached by
    browsers for good: its URL changes with its content."""

    async def endpoint(request: Request) -> Response:
        if not basemap.body:
            return JSONResponse({"error": "this race has no basemap"}, status_code=404)
        etag = f'"{basemap.etag}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(basemap.body, media_type="application/json", headers=headers)

    return endpoint


def create_dashboard(
    server: FastAPI,
    race: Race,
    get_snapshot: Callable[[], Snapshot | None],
    get_history: Callable[[], list[tuple[float, int, int, int, int | None]]] = list,
    base: str = "/",
    event_view: str | None = None,
) -> Dash:
    """Mount the three pages on ``server`` (call after the API routes are added); ``base``: the path
    the server is mounted under (``/races/10k/``), which the browser's requests carry; ``event_view``:
    where the event's view of every race is (a link in the header), None for a race alone."""
    app = Dash(
        __name__,
        requests_pathname_prefix=base,
        routes_pathname_prefix="/",
        server=server,  # type: ignore[arg-type]  # Dash's FastAPI backend takes the app; the annotation predates it
        title=f"pursuit — {race.name}",
        update_title=None,  # type: ignore[arg-type]
        serve_locally=True,
        assets_folder=str(ASSETS),  # absolute: Dash would resolve it against whatever module it sees as the caller
        assets_ignore=r".*",  # each page lists its own, content-hashed (dashboard/page_assets.py)
        suppress_callback_exceptions=True,  # each page's components exist only on that page
    )
    basemap = BasemapAsset(race)
    # one layout per language, built once; each request gets its language's (dashboard/language.py)
    shells = {code: shell(race, basemap, base, event_view, language(code)) for code in LANGUAGES}
    app.layout = lambda: shells[languages.current(race.language).code]
    layouts: dict[str, dict[str, html.Div]] = {
        code: {path: module.layout(race, language(code)) for path, module in DASH_PAGES.items()} for code in LANGUAGES
    }

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def route(pathname: str | None) -> html.Div:
        page = RACE_PREFIX.sub("", pathname or "/") or "/"  # /races/10k/follow is 10k's /follow
        mine = layouts[languages.current(race.language).code]
        return mine.get(page, mine["/"])

    race_control.register(app, race, get_snapshot, get_history)
    server.router.routes.insert(0, Route(BASEMAP_PATH, basemap_endpoint(basemap)))  # ahead of Dash's page routes
    assets = load_assets(languages.dictionary_scripts())
    # Dash's layout and callback list: a returning phone gets a 304. Innermost, under the gzip: the ETag
    # is the hash of the body as built. (Not the pages' HTML: Dash signs a new end_id into each.)
    stable = {"/_dash-layout", "/_dash-dependencies"}  # as the app sees them (an event's race: prefix off)
    server.user_middleware.append(Middleware(Revalidated, wanted=stable.__contains__))
    server.router.routes.insert(0, assets_route(assets))
    # Dash's FastAPI backend sets itself up (finds the assets, builds the script tags) on the first
    # request to "/" or "/_dash-*" only: a first visitor on /follow after a restart would get a page
    # without pursuit.js. Set it up now, with the layout and callbacks in place.
    app._setup_server()  # type: ignore[no-untyped-call]

    # Dash adds its catch-all page route at the lifespan's start, for the app ``dash.get_app()`` names:
    # the last Dash made in the process. An event has one Dash per race and runs the races' lifespans
    # itself, so each Dash serves its own pages (/follow, /commentary) here, bound to it.
    async def page(request: Request) -> Response:
        control = RACE_PREFIX.sub("", request.url.path).rstrip("/") not in SPECTATOR_PATHS
        lang = languages.for_request(request, race.language)
        token = set_current_request(request)  # type: ignore[no-untyped-call]  # what Dash's own catch-all does around index()
        try:
            body = with_assets(app.index(), assets, base, control, lang.code)  # type: ignore[no-untyped-call]
        finally:
            reset_current_request(token)  # type: ignore[no-untyped-call]
        response = HTMLResponse(body, headers={"Cache-Control": "no-cache", "Vary": "Accept-Language, Cookie"})
        languages.remember(request, response, lang)  # the switch: remembered for every page
        return response

    for path in DASH_PAGES:  # ahead of Dash's own index route, which would list every script
        server.router.routes.insert(0, Route(path, page, methods=["GET"]))
    meta, nav = (lambda lang: race_meta(race, basemap, base, lang)), (lambda lang: nav_links(lang, base, event_view))
    spectators = follow.follow_endpoint(race, meta, nav, assets, base)
    server.router.routes.insert(0, Route("/follow", spectators, methods=["GET", "HEAD"]))
    server.router.routes.append(Route("/{path:path}", page, methods=["GET"]))
    return app
