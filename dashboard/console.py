"""Race control's console on ``/``: where an operator signs in and acts (``assets/console.js``).

The server renders an empty frame; the browser builds the sign-in form, and the controls only once
the server has accepted a token, so a page nobody has signed in to holds no control at all, and the
spectator and commentator pages never have this frame.
"""

from __future__ import annotations

from dash import html

from i18n.catalogue import Language


def panel(lang: Language) -> html.Div:
    """The console's frame: who is signed in (or the sign-in form), the last answer, the controls."""
    return html.Div(
        [
            html.Div(
                [html.H2(lang._("Race control actions")), html.Div(id="console-auth", className="console-auth")],
                className="console-head",
            ),
            html.Div("", id="console-msg", className="console-msg", role="status"),
            html.Div(id="console-controls", className="console-controls"),
        ],
        id="console",
        className="panel panel-console",
    )
