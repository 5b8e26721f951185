"""Race control's event view at ``/event``: one card per race of the event, linking to its pages.

A plain page (no Dash, no plotly): its script polls ``/api/event`` every few seconds and fills the
cards; the HTML carries the event's name and one empty card per race, so it reads without script.
For catcher-car races it also shows the world leaderboard (``/api/event/leaderboard``, filtered by
sex and nation). The event's clock is UTC, shown in the header; each card shows its race's own
local time and zone, and catch times are given in UTC and in the runner's race's zone.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from live.race.event import Event

STATIC = Path(__file__).resolve().parent / "static"
POLL_S = 2


def event_html(event: Event) -> str:
    """The page, with a card per race that the script fills."""
    cards = "".join(
        f'<section class="card" data-race="{escape(r.id)}"><h2><a href="/races/{escape(r.id)}/">{escape(r.name)}</a>'
        f'</h2><div class="card-body"></div><nav class="card-links"><a href="/races/{escape(r.id)}/">race control</a>'
        f' <a href="/races/{escape(r.id)}/follow">follow</a> <a href="/races/{escape(r.id)}/commentary">commentary</a>'
        f' <a href="/races/{escape(r.id)}/api/results.csv">results</a></nav></section>'
        for r in event.races
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pursuit — {escape(event.name)}</title>"
        '<link rel="stylesheet" href="/event/event.css"></head><body>'
        f'<header class="header"><h1 class="title">{escape(event.name)}</h1>'
        '<span id="utc" class="utc" title="the event\'s clock"></span>'
        '<span id="conn" class="conn conn-wait" role="status">connecting…</span></header>'
        f'<main class="cards" data-poll-s="{POLL_S}">{cards}</main>'
        '<section id="leaderboard" class="board" hidden><h2>Leaderboard: every location, by distance</h2>'
        '<form class="board-filter"><label>sex <select name="sex"><option value="">all</option>'
        '<option value="F">F</option><option value="M">M</option></select></label> '
        '<label>nation <select name="nation"><option value="">all</option></select></label></form>'
        "<table><thead><tr><th>place</th><th>runner</th><th>sex</th><th>nation</th><th>race</th>"
        "<th>distance</th><th>caught (UTC · local)</th><th>status</th></tr></thead><tbody></tbody></table></section>"
        '<script src="/event/event.js"></script></body></html>'
    )


def event_routes(event: Event) -> list[Route]:
    """``/event`` and its two static files."""
    page = event_html(event)

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"cache-control": "no-cache"})

    def static(name: str, media_type: str) -> Route:
        body = (STATIC / name).read_bytes()

        async def serve(request: Request) -> Response:
            return Response(body, media_type=media_type, headers={"cache-control": "no-cache"})

        return Route(f"/event/{name}", serve)

    return [
        Route("/event", index, methods=["GET", "HEAD"]),
        static("event.js", "text/javascript"),
        static("event.css", "text/css"),
    ]
