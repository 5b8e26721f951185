"""Helpers shared by tests, one module per idea; every test imports them from here (``from
tests.helpers import X``), never from another test module."""

from tests.helpers.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_page, require_chromium
from tests.helpers.event_dir import write_event
from tests.helpers.events import NOTE, journaled, note
from tests.helpers.polling import eventually
from tests.helpers.servers import LiveRace, PensStarted, live_race, pens_started, running_uvicorn
from tests.helpers.world_board import (
    CATCH_TOLERANCE_M,
    WorldTruth,
    assert_ranked_as_truth,
    assert_world_board_is_the_truth,
    world_truth,
)

__all__ = [
    "ARTIFACTS",
    "CATCH_TOLERANCE_M",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "NOTE",
    "LiveRace",
    "PensStarted",
    "WorldTruth",
    "assert_ranked_as_truth",
    "assert_world_board_is_the_truth",
    "eventually",
    "journaled",
    "live_race",
    "note",
    "open_page",
    "pens_started",
    "require_chromium",
    "running_uvicorn",
    "world_truth",
    "write_event",
]
