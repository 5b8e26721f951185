"""Which language a request gets: the page's switch (a cookie) first, then the browser's
``Accept-Language``, then the race's ``[race] language``."""

from __future__ import annotations

from i18n.catalogue import LANGUAGES

COOKIE = "pursuit_lang"


def accepted(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header we speak, most wanted first (``q=0``: refused)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")[:32]):  # a header is bounded; more is noise
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        code = tag.strip().split("-")[0].lower()
        if q > 0 and code in LANGUAGES:
            ranked.append((-q, i, code))
    out: list[str] = []
    for _, _, code in sorted(ranked):
        if code not in out:
            out.append(code)
    return out


def choose(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The language to answer in."""
    if cookie in LANGUAGES:
        return cookie
    wanted = accepted(accept_language)
    return wanted[0] if wanted else default
