"""The ChronoTrack ingestor on a real socket over the session's real Redis, on race day's clock."""

from __future__ import annotations

import time

import pytest

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.store.store import Store
from tests.helpers.chronotrack_client import RACE_DAY


@pytest.fixture
async def ingest(redis, paris):
    store = Store(redis, paris)
    await store.setup()
    now = RACE_DAY.replace(tzinfo=paris.timezone).timestamp()
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=now, speed=1.0))
    server = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
    await server.start()
    yield server, store
    await server.close()
