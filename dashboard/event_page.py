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

from dashboard import language as languages
from i18n.catalogue import LANGUAGES, Language, language
from live.race.event import Event

STATIC = Path(__file__).resolve().parent / "static"
POLL_S = 2


def event_html(event: Event, lang: Language | None = None) -> str:
    """The page, with a card per race that the script fills, in ``lang``."""
    lang = lang or language(event.races[0].language)
    links = (lang._("race control"), lang._("follow"), lang._("commentary"), lang._("results"))
    board = lang._("Leaderboard: every location, by distance")
    everyone, clock_title = escape(lang._("all")), escape(lang._("the event's clock"))
    sex, nation = lang._("sex"), lang._("nation")
    columns = (
        lang._("place"), lang._("runner"), lang._("sex"), lang._("nation"), lang._("race"), lang._("distance"),
        lang._("caught (UTC · local)"), lang._("status"),
    )  # fmt: skip
    cards = "".join(
        f'<section class="card" data-race="{escape(r.id)}"><h2><a href="/races/{escape(r.id)}/">{escape(r.name)}</a>'
        f'</h2><div class="card-body"></div><nav class="card-links">'
        f'<a href="/races/{escape(r.id)}/">{links[0]}</a>'
        f' <a href="/races/{escape(r.id)}/follow">{links[1]}</a>'
        f' <a href="/races/{escape(r.id)}/commentary">{links[2]}</a>'
        f' <a href="/races/{escape(r.id)}/api/results.csv?lang={lang.code}">{links[3]}</a></nav></section>'
        for r in event.races
    )
    return (
        f'<!DOCTYPE html><html lang="{lang.code}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pursuit — {escape(event.name)}</title>"
        '<link rel="stylesheet" href="/event/event.css"></head><body>'
        f'<header class="header"><h1 class="title">{escape(event.name)}</h1>{switch_html(lang)}'
        f'<span id="utc" class="utc" title="{clock_title}"></span>'
        f'<span id="conn" class="conn conn-wait" role="status">{escape(lang._("connecting…"))}</span></header>'
        f'<main class="cards" data-poll-s="{POLL_S}">{cards}</main>'
        f'<section id="leaderboard" class="board" hidden><h2>{board}</h2>'
        f'<form class="board-filter"><label>{sex} <select name="sex"><option value="">{everyone}</option>'
        '<option value="F">F</option><option value="M">M</option></select></label> '
        f'<label>{nation} <select name="nation"><option value="">{everyone}</option></select></label></form>'
        "<table><thead><tr>"
        + "".join(f"<th>{c}</th>" for c in columns)
        + "</tr></thead><tbody></tbody></table></section>"
        f"{languages.dictionary_tag(lang.code, ('event.js',))}"
        '<script src="/event/event.js"></script></body></html>'
    )


def switch_html(lang: Language) -> str:
    """The FR | EN switch of a plain page (``dashboard.language.switch`` for the Dash pages)."""
    links = "".join(
        f'<a class="lang-link" href="?lang={code}" lang="{code}" hreflang="{code}">{code.upper()}</a>'
        if code != lang.code
        else f'<span class="lang-current" aria-current="true">{code.upper()}</span>'
        for code in LANGUAGES
    )
    return f'<nav class="lang-switch" aria-label="{escape(lang._("Language"))}">{links}</nav>'


def event_routes(event: Event) -> list[Route]:
    """``/event`` and its two static files."""
    pages = {code: event_html(event, language(code)) for code in LANGUAGES}
    default = event.races[0].language

    async def index(request: Request) -> Response:
        lang = languages.for_request(request, default)
        response = HTMLResponse(
            pages[lang.code], headers={"cache-control": "no-cache", "vary": "Accept-Language, Cookie"}
        )
        languages.remember(request, response, lang)
        return response

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
