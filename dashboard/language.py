"""The language of a page: chosen per request (the switch's ``?lang=`` and cookie, the browser's
``Accept-Language``, the race's ``[race] language``), the FR/EN switch in the header, and the
dictionary the page's scripts translate with (only the messages of the scripts that page loads)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from babel.messages.extract import extract_javascript
from dash import html
from dash.backends._fastapi import get_current_request
from starlette.requests import Request
from starlette.responses import Response

from dashboard.page_assets import dictionary_name, page_scripts
from i18n.catalogue import LANGUAGES, NAMES, Language, language
from i18n.choice import COOKIE, choose
from i18n.events import EVENT_TEMPLATES

HERE = Path(__file__).resolve().parent
COOKIE_MAX_AGE_S = 365 * 24 * 3600
JS_KEYWORDS: dict[str, None] = {"T": None}  # T("…") in the pages' scripts


def for_request(request: Request, default: str) -> Language:
    """The language ``request`` asks for: ``?lang=`` (the switch), the cookie it sets, the browser's
    ``Accept-Language``, else ``default`` (the race's)."""
    asked = request.query_params.get("lang")
    cookie = asked if asked in LANGUAGES else request.cookies.get(COOKIE)
    return language(choose(cookie, request.headers.get("accept-language"), default))


def remember(request: Request, response: Response, lang: Language) -> None:
    """The switch's choice (``?lang=``) kept in a cookie, for every page of the site."""
    if request.query_params.get("lang") == lang.code:
        response.set_cookie(COOKIE, lang.code, max_age=COOKIE_MAX_AGE_S, samesite="lax")


def current(default: str) -> Language:
    """The language of the Dash request being served (layout, callbacks); ``default`` outside one."""
    try:
        request = get_current_request()
    except RuntimeError:  # "No active request": Dash builds the layout once at start-up, outside any request
        return language(default)
    return for_request(request, default)


def switch(lang: Language) -> html.Nav:
    """FR | EN in the header: links to the same page in the other language (remembered in a cookie)."""
    return html.Nav(
        [
            html.A(
                code.upper(), href=f"?lang={code}", lang=code, hrefLang=code, title=NAMES[code], className="lang-link"
            )
            if code != lang.code
            else html.Span(code.upper(), className="lang-current", title=NAMES[code], **{"aria-current": "true"})  # type: ignore[arg-type]
            for code in LANGUAGES
        ],
        className="lang-switch",
        **{"aria-label": lang._("Language")},  # type: ignore[arg-type]
    )


@cache
def script_messages(names: tuple[str, ...]) -> tuple[str, ...]:
    """Every ``T("…")`` message of the scripts ``names`` (under ``assets/`` or ``static/``)."""
    found: list[str] = []
    for name in names:
        path = next((p for p in (HERE / "assets" / name, HERE / "static" / name) if p.is_file()), None)
        if path is None:  # not ours (the vendored plotly bundle): no messages
            continue
        with path.open("rb") as f:
            for _, _, message, _ in extract_javascript(f, JS_KEYWORDS, [], {}):
                first = message if isinstance(message, str) else message[0]  # T("…", {fields}): the text
                if first and first not in found:
                    found.append(first)
    return tuple(found)


@cache
def dictionary(code: str, names: tuple[str, ...]) -> str:
    """The JSON the page carries for its scripts: the language and the translations of their
    messages (and of the events' texts, which they show), nothing for other pages."""
    lang = language(code)
    wanted = [*script_messages(names), *EVENT_TEMPLATES.values()]
    body: dict[str, object] = {"lang": code, "messages": lang.messages(wanted)}
    if lang.messages(list(EVENT_TEMPLATES.values())):  # English pages show the feed's own text
        body["events"] = EVENT_TEMPLATES
    return json.dumps(body, ensure_ascii=False).replace("</", "<\\/")


def dictionary_tag(code: str, names: tuple[str, ...]) -> str:
    """The dictionary inline, for a plain page (``/event``)."""
    return f'<script id="pursuit-i18n" type="application/json">{dictionary(code, names)}</script>'


def dictionary_scripts() -> dict[str, bytes]:
    """Every page kind's dictionary in every language, as scripts served content-hashed beside the
    pages' own (``dashboard/page_assets.py``): ``window.pursuitI18n = {…}``."""
    return {
        dictionary_name(code, control): f"window.pursuitI18n = {dictionary(code, page_scripts(control))};\n".encode()
        for code in LANGUAGES
        for control in (False, True)
    }
