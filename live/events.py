"""What an event of the race's events stream is: every kind, declared once with its level, and the one
type every emitter builds (the engine's detection, race control, the readers' held guns).

The stream's shape on the wire (``id``, ``time``, ``kind``, ``text`` and the data's fields) is SPEC's;
docs/OPERATIONS.md says what each alert means and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Stories for commentators (the last three: a catcher-car race's) and alerts for race control. The
# dashboard gets the two lists with the race (``story_kinds``, ``alert_kinds``).
STORY_KINDS = (
    "caught",
    "milestone",
    "pursuer_split",
    "pursuer_reaches_pen",
    "close_escape",
    "final",
    "forecast",
    "car_milestone",
    "last_running",
    "last_caught",
)
ALERT_KINDS = (
    "pursuer_missed_mat",
    "catch_undone",
    "runner_missed_mat",
    "impossible_passing",
    "runner_overdue",
    "mat_clock",
    "mat_silent",
    "unknown_chip",
    "reader_errors",
    "redis_memory",
    "journal_full",
    "gun_held",
)
# What race control did (web/admin.py): shown among the alerts, the one it answers marked done.
CONTROL_KINDS = ("admin",)

LEVEL_OF: dict[str, str] = {
    **dict.fromkeys(STORY_KINDS, "story"),
    **dict.fromkeys(ALERT_KINDS, "alert"),
    **dict.fromkeys(CONTROL_KINDS, "alert"),
}


@dataclass(frozen=True)
class Event:
    """One event of the events stream: its dedupe ``key`` (``caught:<bib>``…; empty for an event
    appended every time, as race control's actions are), ``kind``, race ``time``, a readable ``text``
    and structured ``data``, whose ``level`` is the kind's. ValueError for a kind not declared here
    or at another level, so nothing else reaches the stream."""

    key: str
    kind: str
    time: float
    text: str
    data: Mapping[str, Any]

    def __post_init__(self) -> None:
        level = LEVEL_OF.get(self.kind)
        if level is None or self.data.get("level") != level:
            raise ValueError(
                f"event kind {self.kind!r} (level {self.data.get('level')!r}) is not declared at that level "
                "in live/events.py (STORY_KINDS, ALERT_KINDS, CONTROL_KINDS)"
            )
