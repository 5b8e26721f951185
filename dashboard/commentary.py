"""Commentators (``/commentary``): the story numbers in large type, the map, the event ticker and
the closest escapes. Filled by ``assets/pursuit.js`` from ``/ws/live`` and ``/ws/events``."""

from __future__ import annotations

from dash import html

from dashboard.race_control import map_graph
from i18n.catalogue import N_, Language
from i18n.numbers import integer
from live.race.race import Race

STORY = (
    ("story-won", N_("winners so far")),
    ("story-forecast", N_("forecast winners")),
    ("story-pursuer", N_("the pursuer")),
    ("story-next-pen", N_("next pen he reaches")),
    ("story-caught", N_("caught so far")),
)
# the same boxes in a race without a pursuer (filled by assets/pursuit.js from the counts)
STORY_TIMED = (
    ("story-won", N_("finishers so far")),
    ("story-forecast", N_("running")),
    ("story-pursuer", N_("leader on the course")),
    ("story-next-pen", N_("started")),
    ("story-caught", N_("stopped (DNF)")),
)

# a catcher-car race's labels (``assets/pursuit.js`` fills them with the count still running and the
# next milestone's forecast)
CATCHER_LABELS = {
    "story-won": N_("still running"),
    "story-forecast": N_("at the next milestone"),
    "story-pursuer": N_("the car"),
}


def layout(race: Race, lang: Language) -> html.Div:
    quota = (
        lang._("quota {quota}", quota=integer(race.quota, lang.code))
        if race.quota is not None
        else lang._("no quota set")
    )
    chase = race.pursuer is not None
    labels = [
        (i, CATCHER_LABELS.get(i, label) if race.by_distance else label)
        for i, label in (STORY if chase else STORY_TIMED)
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(lang._(label), className="story-label"),
                            html.Div("–", id=story_id, className="story-value"),
                            html.Div("", id=f"{story_id}-sub", className="story-sub"),
                        ],
                        className="story",
                    )
                    for story_id, label in labels
                ],
                className="stories",
            ),
            html.Div(
                [
                    html.Div(map_graph(race, lang), className="panel panel-map"),
                    html.Div(
                        [
                            html.H2(lang._("Live")),
                            html.Div("", id="story-split", className="story-split"),
                            html.Ol(id="ticker", className="ticker", tabIndex="0"),  # scrolls: reachable by keyboard
                            html.P(
                                lang._("Catches, splits and milestones appear here as they happen.")
                                if chase
                                else lang._("First finishers and milestones appear here as they happen."),
                                className="hint",
                            ),
                        ],
                        className="panel panel-ticker",
                    ),
                ],
                className="row row-main",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.H2(lang._("Closest escapes") if chase else lang._("Finishers")),
                            html.Ol(id="escapes", className="escapes"),
                            html.P(
                                lang._("Runners who beat him by under 5 s appear here ({quota}).", quota=quota)
                                if chase
                                else lang._("The first finishers and milestones appear in the ticker."),
                                className="hint",
                            ),
                        ],
                        className="panel panel-escapes",
                    ),
                ],
                className="row",
            ),
        ],
        className="page page-commentary",
    )
