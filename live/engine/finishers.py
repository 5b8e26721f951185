"""Event events of a race without a pursuer: the first finisher, the first of each sex, and every
``FINISHER_STEP``-th finisher. Pure: from the snapshot and the finish times to events (key, kind,
time, text, fields), which ``live.engine.events`` appends once each like every other. Pure, but for
reading the engine's passings and guns."""

from __future__ import annotations

import numpy as np

from live.chase.snapshot import FINISHED, Snapshot
from live.engine.engine import LiveEngine
from live.events import Event

FINISHER_STEP = 500  # a milestone every 500 finishers
SEX_WORDS = {"F": "woman", "M": "man"}


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def finisher_stories(engine: LiveEngine, snap: Snapshot, names: dict[str, str]) -> list[Event]:
    """The stories the finishers of ``snap`` make, from the engine's passings and pen guns."""
    finish, sexes = engine.used_times[:, -1], engine.sexes
    gun = engine.pen_starts(None)[engine.runner_pen_index]
    done = np.flatnonzero(snap.status == FINISHED)
    if not len(done):
        return []
    gun_s = finish[done] - gun[done]
    order = done[np.lexsort((done, gun_s))]  # by gun time, then roster order (as the places)
    out = []

    def first(row: int, who: str, key: str) -> Event:
        bib = str(snap.bibs[row])
        t = float(finish[row] - gun[row])
        name = names.get(bib, "")
        data = {"level": "story", "bib": bib, "name": name, "pen": str(snap.pens[row]), "gun_s": round(t, 2)}
        return Event(key, "milestone", float(finish[row]), f"{who}: {name} (bib {bib}) in {_clock(t)}.", data)

    out.append(first(int(order[0]), "First finisher", "finishers:first"))
    for sex, word in SEX_WORDS.items():
        rows = order[sexes[order] == sex]
        if len(rows):
            out.append(first(int(rows[0]), f"First {word} home", f"finishers:first:{sex}"))
    for m in range(FINISHER_STEP, len(done) + 1, FINISHER_STEP):
        text = f"{m:,} runners have finished."
        out.append(Event(f"finishers:{m}", "milestone", snap.now, text, {"level": "story", "finished": m}))
    return out
