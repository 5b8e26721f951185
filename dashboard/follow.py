"""Spectators (``/follow``): find runners by bib or name, follow several (kept in the browser), a card
each, the same map with them highlighted. Everything live is done by ``assets/pursuit.js`` from the
live feed (``follow`` messages) and ``GET /api/runners?q=``: no Python callback per viewer."""

from __future__ import annotations

from dash import dcc, html

from dashboard.race_control import map_graph
from i18n.catalogue import Language
from live.race.race import Race


def layout(race: Race, lang: Language) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.Label(lang._("Find a runner"), htmlFor="follow-search", className="label"),
                    dcc.Input(
                        id="follow-search",
                        type="search",
                        placeholder=lang._("bib or name"),
                        debounce=False,
                        autoComplete="off",
                        className="search",
                    ),
                    html.Ul(id="follow-results", className="results"),
                    html.Ul(id="follow-notices", className="notices", hidden=True, role="status"),  # pursuit.js fills
                    html.Div(
                        [
                            html.Button(
                                lang._("share these runners"),
                                id="follow-share-button",
                                type="button",
                                className="share",
                            ),
                            html.Button(
                                lang._("notify me"),
                                id="follow-notify-button",
                                type="button",
                                className="share",
                                hidden=True,
                            ),
                            html.Div(
                                [
                                    html.Label(lang._("link to share"), htmlFor="follow-share-link", className="label"),
                                    dcc.Input(
                                        id="follow-share-link", type="url", readOnly=True, className="share-link"
                                    ),
                                ],
                                hidden=True,
                            ),
                        ],
                        id="follow-share",
                        className="share-tools",
                        hidden=True,
                    ),
                    html.Div("", id="follow-share-status", className="hint", role="status"),
                    html.Div(
                        lang._("Follow runners to see their cards here. Your list stays in this browser."),
                        id="follow-empty",
                        className="hint",
                    ),
                    html.Div(id="follow-cards", className="cards"),
                ],
                className="follow-side",
            ),
            html.Div(map_graph(race, lang), className="follow-map"),
        ],
        className="page page-follow",
    )
