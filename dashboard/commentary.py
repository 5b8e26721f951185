"""Commentators (``/commentary``): the story numbers in large type, the map, the event ticker and
the closest escapes. Filled by ``assets/pursuit.js`` from ``/ws/live`` and ``/ws/events``."""

from __future__ import annotations

from dash import html

from dashboard.race_control import map_graph
from live.race.race import Race

STORY = (
    ("story-won", "winners so far"),
    ("story-forecast", "forecast winners"),
    ("story-pursuer", "the pursuer"),
    ("story-next-pen", "next pen he reaches"),
    ("story-caught", "caught so far"),
)
# the same boxes in a race without a pursuer (filled by assets/pursuit.js from the counts)
STORY_TIMED = (
    ("story-won", "finishers so far"),
    ("story-forecast", "running"),
    ("story-pursuer", "leader on the course"),
    ("story-next-pen", "started"),
    ("story-caught", "stopped (DNF)"),
)

# a catcher-car race's labels (``assets/pursuit.js`` fills them with the count still running and the
# next milestone's forecast)
CATCHER_LABELS = {"story-won": "still running", "story-forecast": "at the next milestone", "story-pursuer": "the car"}


def layout(race: Race) -> html.Div:
    quota = f"quota {race.quota:,}" if race.quota is not None else "no quota set"
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
                            html.Div(label, className="story-label"),
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
                    html.Div(map_graph(race), className="panel panel-map"),
                    html.Div(
                        [
                            html.H2("Live"),
                            html.Div("", id="story-split", className="story-split"),
                            html.Ol(id="ticker", className="ticker", tabIndex="0"),  # scrolls: reachable by keyboard
                            html.P(
                                "Catches, splits and milestones appear here as they happen."
                                if chase
                                else "First finishers and milestones appear here as they happen.",
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
                            html.H2("Closest escapes" if chase else "Finishers"),
                            html.Ol(id="escapes", className="escapes"),
                            html.P(
                                f"Runners who beat him by under 5 s appear here ({quota})."
                                if chase
                                else "The first finishers and milestones appear in the ticker.",
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
