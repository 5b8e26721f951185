"""The pages' own scripts and styles, served content-hashed, precompressed and cached for good.

Dash would include every file of ``assets/`` on every page, by a URL versioned with the file's
modification time and revalidated on each visit. Instead each file is served at
``static/<sha256 prefix>/<name>`` with ``Cache-Control: immutable`` (a new content is a new URL),
gzipped once at start-up (not once per phone), and each page lists only what it uses:
``/follow``, a plain page, gets ``chart.js`` (its own map) with the map and the live code
(``dashboard/follow.py``); ``/commentary`` gets the partial plotly bundle
(``vendor/plotly-basic.min.js``: scatter and bar, all our figures draw; Dash's Graph takes
``window.Plotly`` when it exists instead of fetching the full bundle), the map and the live code;
race control adds its console. Each page also loads its scripts' dictionary in its language
(``i18n-fr-spectator.js``…, made by ``dashboard/language.py``), served the same way, so a returning
phone downloads it no more than the scripts. Dash's DataTable bundle, which no page uses, is left
out of every page.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
FILES = {  # name -> the file served under it
    "plotly-basic.min.js": HERE / "vendor" / "plotly-basic.min.js",
    "chart.js": HERE / "assets" / "chart.js",
    "map.js": HERE / "assets" / "map.js",
    "pursuit.js": HERE / "assets" / "pursuit.js",
    "console.js": HERE / "assets" / "console.js",
    "style.css": HERE / "assets" / "style.css",
}
SPECTATOR_SCRIPTS = ("plotly-basic.min.js", "map.js", "pursuit.js")
CONTROL_SCRIPTS = ("plotly-basic.min.js", "console.js", "map.js", "pursuit.js")
IMMUTABLE = "public, max-age=31536000, immutable"
ROUTE = "/static/{digest}/{name}"
UNUSED_SCRIPT = re.compile(r'<script src="[^"]*/_dash-component-suites/dash/dash_table/[^"]*"></script>\s*')


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    gzipped: bytes
    digest: str
    media_type: str


def load_assets(made: dict[str, bytes] | None = None) -> dict[str, Asset]:
    """Every served file, read (or ``made``: name -> body), hashed and gzipped once."""
    out = {}
    for name, body in {**{n: p.read_bytes() for n, p in FILES.items()}, **(made or {})}.items():
        media = "text/css" if name.endswith(".css") else "text/javascript"
        digest = hashlib.sha256(body).hexdigest()[:16]
        out[name] = Asset(name, body, gzip.compress(body, compresslevel=9, mtime=0), digest, media)
    return out


def asset_url(assets: dict[str, Asset], name: str, base: str) -> str:
    return f"{base.rstrip('/')}/static/{assets[name].digest}/{name}"


def dictionary_name(lang: str, control: bool) -> str:
    """The served name of the scripts' dictionary of a page in ``lang``."""
    return f"i18n-{lang}-{'control' if control else 'spectator'}.js"


def page_tags(assets: dict[str, Asset], base: str, control: bool, lang: str = "en") -> tuple[str, str]:
    """The ``<link>`` for the head and the ``<script>`` tags for the body of one page."""
    css = f'<link rel="stylesheet" href="{asset_url(assets, "style.css", base)}">'
    names = page_scripts(control)
    if (dictionary := dictionary_name(lang, control)) in assets:  # first: the scripts translate with it
        names = (dictionary, *names)
    return css, "".join(f'<script src="{asset_url(assets, n, base)}"></script>' for n in names)


def page_scripts(control: bool) -> tuple[str, ...]:
    """The scripts a page loads: race control's, or a spectator page's."""
    return CONTROL_SCRIPTS if control else SPECTATOR_SCRIPTS


def with_assets(html: str, assets: dict[str, Asset], base: str, control: bool, lang: str = "en") -> str:
    """Dash's page with our tags in (the style in the head, the scripts ahead of Dash's renderer,
    so ``window.Plotly`` exists before the first graph; the dictionary of ``lang`` first), the
    DataTable bundle out and ``<html lang>``."""
    css, scripts = page_tags(assets, base, control, lang)
    html = (
        UNUSED_SCRIPT.sub("", html).replace("</head>", css + "</head>", 1).replace("<html>", f'<html lang="{lang}">', 1)
    )
    marker = '<script id="_dash-config"'
    return html.replace(marker, scripts + marker, 1) if marker in html else html.replace("</body>", scripts + "</body>")


def assets_route(assets: dict[str, Asset]) -> Route:
    """``GET static/<digest>/<name>``: immutable when the digest is the file's; an older digest (a
    page cached across a deploy) gets the current file, revalidated next time."""

    async def serve(request: Request) -> Response:
        asset = assets.get(request.path_params["name"])
        if asset is None:
            return Response("no such file", status_code=404, media_type="text/plain")
        current = request.path_params["digest"] == asset.digest
        headers = {
            "Cache-Control": IMMUTABLE if current else "no-cache",
            "ETag": f'"{asset.digest}"',
            "Vary": "Accept-Encoding",
        }
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return Route(ROUTE, serve, methods=["GET", "HEAD"])
