"""The live feed's numbering and resume buffer: ``seq`` and the ``epoch`` it counts in, and the last
``RESUME_TICKS`` ticks as sent, for a client that reconnects with ``/ws/live?after=SEQ&epoch=E``
(docs/ARCHITECTURE.md, "Live feed"). Nothing here knows about connections or what a tick says."""

from __future__ import annotations

import itertools
import secrets
from collections import deque

from live.store.leader import FRAMES_MAXLEN
from web.frames import Outgoing

RESUME_TICKS = FRAMES_MAXLEN  # ticks kept for a client that reconnects with ``?after=`` (as long as a relay's)
MAX_SEQ_DIGITS = 18  # an ``after`` longer than this is no seq of ours


class TickSequence:
    """The seq of the last tick, its epoch, and the ticks kept as sent (the same objects every client
    got, so nothing grows per client), oldest first."""

    def __init__(self, keep: int = RESUME_TICKS) -> None:
        self.seq = 0
        self.epoch = secrets.token_hex(8)  # what ``seq`` counts in; the leader's, once there is one
        self.recent: deque[tuple[int, Outgoing]] = deque(maxlen=keep)  # (seq, tick) as sent

    def set_epoch(self, epoch: str) -> bool:
        """Number the ticks in ``epoch`` from now on (the ticks kept from another cannot be resumed);
        whether it changed."""
        if epoch == self.epoch:
            return False
        self.epoch = epoch
        self.recent.clear()
        return True

    def sent(self, tick: Outgoing) -> None:
        """``tick`` went out as the tick of ``seq``."""
        self.recent.append((self.seq, tick))

    def missed(self, after: str | None, epoch: str | None) -> list[Outgoing] | None:
        """The ticks after ``after`` (a reconnecting client's last ``seq``, as the query gave it) up to
        now, oldest first, if every one of them was sent in ``epoch`` (if given): ``[]`` if he is up
        to date. None, and he gets a snapshot, if ``after`` is no seq, too old, ahead of this process,
        of another epoch, or a tick in between is missing (a relay that missed a frame)."""
        if after is None or not after.isascii() or not after.isdigit() or len(after) > MAX_SEQ_DIGITS:
            return None
        seq = int(after)
        recent = self.recent
        if seq < 1 or not recent or (epoch is not None and epoch != self.epoch):
            return None  # seq 0 is no state at all
        if seq == recent[-1][0]:
            return []  # up to date with every tick sent (one in flight comes with the fan-out)
        start = next((i for i, (at, _) in enumerate(recent) if at == seq + 1), None)
        if start is None:
            return None
        missed, last = [], seq
        for at, tick in itertools.islice(recent, start, None):
            if at != last + 1 and not tick.snapshot:
                return None  # he would see the gap and ask for a snapshot anyway
            missed.append(tick)
            last = at
        return missed
