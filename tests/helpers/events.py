"""The journal and the events stream as tests write and read them."""

from __future__ import annotations

from typing import Any

from live.events import Event
from live.store.ingest import JournalEntry
from live.store.store import Store

NOTE = "admin"  # the kind of the tests' own events: the engine never emits it, so a feed filtered on it sees them alone


def note(time_s: float, text: str, **data: Any) -> Event:
    """An event of the tests' own (race control's kind, appended every time), with ``data``."""
    return Event("", NOTE, time_s, text, {"level": "alert", **data})


async def journaled(store: Store) -> list[list[str]]:
    """The raw lines or messages of every entry of ``store``'s journal, oldest first, one list per entry."""
    return [list(JournalEntry.read(fields).units) for _, fields in await store.journal_entries("-", 1_000_000)]
