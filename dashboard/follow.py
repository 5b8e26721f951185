"""Spectators (``/follow``): find runners by bib or name, follow several (kept in the browser), a card
each, the map with them highlighted.

A plain page, without Dash and without plotly (a phone's first visit weighs a third of what it did:
docs/BENCHMARKS.md, the browser section): the HTML is built here once per language and served with
a validator, and everything live is done in the browser from the live feed (``follow`` messages)
and ``GET /api/runners?q=``: ``assets/chart.js`` draws the course, its direction and mats on a
canvas and owns zoom and pan, ``assets/map.js`` the basemap and the labels under the runners, and
``assets/pursuit.js`` the runners, the search, the cards, the sharing and the notices.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from html import escape

import numpy as np
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dashboard import language as languages
from dashboard.event_page import switch_html
from dashboard.figures import CLASS_COLOURS, CLASS_LABELS, CLASS_SHAPES, TIMED_LABELS, course_samples, map_view
from dashboard.page_assets import Asset, asset_url, dictionary_name
from i18n.catalogue import LANGUAGES, Language, language
from live.race.race import Race

SCRIPTS = ("chart.js", "map.js", "pursuit.js")
# the legend's symbols (CLASS_SHAPES), as the canvas draws them, in a 14 px box
SYMBOLS = {
    "square": '<rect x="2" y="2" width="10" height="10"/>',
    "triangle-up": '<path d="M7 1 13 12H1Z"/>',
    "diamond": '<path d="M7 0 14 7 7 14 0 7Z"/>',
    "x": '<path d="M1 5.5h12v3H1zM5.5 1h3v12h-3z"/>',
    "circle": '<circle cx="7" cy="7" r="6"/>',
}


def legend_html(race: Race, lang: Language) -> str:
    """The statuses the map tells apart, each with its colour and its shape (never colour only)."""
    labels = CLASS_LABELS if race.pursuer is not None else TIMED_LABELS
    items = "".join(
        f'<li data-symbol="{CLASS_SHAPES[cls]}"><svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" '
        f'fill="{CLASS_COLOURS[cls]}">{SYMBOLS[CLASS_SHAPES[cls]]}</svg>{escape(lang._(label))}</li>'
        for cls, label in labels.items()
    )
    return f'<ul class="legend">{items}</ul>'


def chart_data(race: Race) -> str:
    """What ``assets/chart.js`` draws that the race meta lacks: the view it opens at and the mats."""
    xr, yr = map_view(race)
    mats = [m for m in race.mats if not m.backup_of]
    mx, my = race.course.xy_at(np.array([m.at_m[0] for m in mats], dtype=float))
    return json.dumps(
        {
            "view": [round(v, 1) for v in (*xr, *yr)],
            "mats": [[round(float(x), 1), round(float(y), 1)] for x, y in zip(mx, my, strict=True)],
            "avenue": race.basemap is None,  # no streets to draw it: the avenue as a band
        }
    )


def follow_html(
    race: Race,
    lang: Language,
    meta: dict[str, object],
    nav: list[tuple[str, str]],
    assets: dict[str, Asset],
    base: str,
) -> str:
    """The page in ``lang``; ``meta``: what the scripts know of the race (``dashboard.app.race_meta``);
    ``nav``: the header's links (href, label)."""
    find, placeholder, share = lang._("Find a runner"), lang._("bib or name"), lang._("share these runners")
    notify, link, connecting = lang._("notify me"), lang._("link to share"), lang._("connecting…")
    empty = lang._("Follow runners to see their cards here. Your list stays in this browser.")
    zoom = (("in", "+", lang._("Zoom in")), ("out", "−", lang._("Zoom out")), ("fit", "⤢", lang._("Whole course")))
    links = "".join(f'<a class="nav-link" href="{escape(h)}">{escape(label)}</a>' for h, label in nav)
    names = (dictionary_name(lang.code, False), *SCRIPTS)
    scripts = "".join(f'<script src="{asset_url(assets, n, base)}"></script>' for n in names if n in assets)
    race_attr, course_attr = escape(json.dumps(meta)), escape(course_samples(race))
    return (
        f'<!DOCTYPE html><html lang="{lang.code}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pursuit — {escape(race.name)}</title>"
        f'<link rel="stylesheet" href="{asset_url(assets, "style.css", base)}"></head><body><div class="shell">'
        f'<div id="race-meta" hidden data-race="{race_attr}" data-course="{course_attr}"></div>'
        f'<div class="header"><h1 class="title">{escape(race.name)}</h1><nav class="nav">{links}</nav>'
        f'{switch_html(lang)}<div id="conn" class="conn conn-wait" role="status">{escape(connecting)}</div></div>'
        '<div id="page"><main class="page page-follow"><div class="follow-side">'
        f'<label for="follow-search" class="label">{escape(find)}</label>'
        f'<input id="follow-search" type="search" placeholder="{escape(placeholder)}" autocomplete="off" '
        'class="search"><ul id="follow-results" class="results"></ul>'
        '<ul id="follow-notices" class="notices" hidden role="status"></ul>'
        '<div id="follow-share" class="share-tools" hidden>'
        f'<button id="follow-share-button" type="button" class="share">{escape(share)}</button>'
        f'<button id="follow-notify-button" type="button" class="share" hidden>{escape(notify)}</button>'
        f'<div hidden><label for="follow-share-link" class="label">{escape(link)}</label>'
        '<input id="follow-share-link" type="url" readonly class="share-link"></div></div>'
        '<div id="follow-share-status" class="hint" role="status"></div>'
        '<div id="follow-empty" class="hint">'
        f"{escape(empty)}</div>"
        '<div id="follow-cards" class="cards"></div></div>'
        '<div class="follow-map"><div id="map" class="map">'
        f'<div class="course-map" data-chart="{escape(chart_data(race))}">'
        f'{legend_html(race, lang)}<div class="map-zoom">'
        + "".join(
            f'<button type="button" data-zoom="{z}" aria-label="{escape(t)}" title="{escape(t)}">{sign}</button>'
            for z, sign, t in zoom
        )
        + f"</div></div></div></div></main></div></div>{scripts}</body></html>"
    )


def follow_endpoint(
    race: Race,
    meta: Callable[[Language], dict[str, object]],
    nav: Callable[[Language], list[tuple[str, str]]],
    assets: dict[str, Asset],
    base: str,
) -> Callable[[Request], Awaitable[Response]]:
    """``GET /follow``: the page in the request's language, built once per language; a returning
    phone that has it gets a 304 (its ETag: the hash of the page)."""
    langs = [language(code) for code in LANGUAGES]
    pages = {lang.code: follow_html(race, lang, meta(lang), nav(lang), assets, base) for lang in langs}
    etags = {code: f'"{hashlib.sha256(body.encode()).hexdigest()[:16]}"' for code, body in pages.items()}

    async def endpoint(request: Request) -> Response:
        lang = languages.for_request(request, race.language)
        headers = {"Cache-Control": "no-cache", "Vary": "Accept-Language, Cookie", "ETag": etags[lang.code]}
        if request.headers.get("if-none-match") == etags[lang.code]:
            response: Response = Response(status_code=304, headers=headers)
        else:
            response = HTMLResponse(pages[lang.code], headers=headers)
        languages.remember(request, response, lang)  # the switch: remembered for every page
        return response

    return endpoint
