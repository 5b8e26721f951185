"""Helpers shared by tests, one module per idea; every test imports them from here (``from
tests.helpers import X``), never from another test module."""

from tests.helpers.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_page, require_chromium
from tests.helpers.event_dir import write_event
from tests.helpers.events import NOTE, journaled, note
from tests.helpers.polling import eventually
from tests.helpers.servers import LiveRace, PensStarted, live_race, pens_started, running_uvicorn

__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "NOTE",
    "LiveRace",
    "PensStarted",
    "eventually",
    "journaled",
    "live_race",
    "note",
    "open_page",
    "pens_started",
    "require_chromium",
    "running_uvicorn",
    "write_event",
]
