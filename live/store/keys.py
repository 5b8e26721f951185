"""Every Redis key pursuit uses, built in one place.

All keys of a race share one hash tag, ``{pursuit:<race id>}``, so a race lives in one Redis
Cluster slot and a Lua script may touch any of them. The layout is documented in
``docs/ARCHITECTURE.md``; change both together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RaceKeys:
    """Key names of one race."""

    race_id: str

    @property
    def prefix(self) -> str:
        return f"{{pursuit:{self.race_id}}}"

    @property
    def pattern(self) -> str:
        """A ``SCAN MATCH`` pattern of every key of the race (its braces escaped)."""
        return f"{self.prefix.replace('{', '[{]').replace('}', '[}]')}:*"

    @property
    def journal(self) -> str:
        """Stream: every raw line from every reader, appended before it is applied."""
        return f"{self.prefix}:journal"

    @property
    def passings(self) -> str:
        """Stream: each passing assigned or re-timed (bib, timing point, time); the live engine tails it."""
        return f"{self.prefix}:passings"

    @property
    def crossings(self) -> str:
        """Hash ``<bib or chip:CODE>|<mat>`` → sorted crossing times (comma-separated unix seconds)."""
        return f"{self.prefix}:crossings"

    @property
    def events(self) -> str:
        """Stream: commentary and alert events (``kind``, ``time``, ``text``, ``data`` JSON), durable."""
        return f"{self.prefix}:events"

    @property
    def event_keys(self) -> str:
        """Hash: dedupe key of every event emitted (``caught:<bib>``…), so each is emitted once."""
        return f"{self.prefix}:event-keys"

    @property
    def admin_log(self) -> str:
        """Stream: every admin action (who, what, arguments), journaled before it is applied."""
        return f"{self.prefix}:admin"

    @property
    def admin_results(self) -> str:
        """Hash admin-log entry id → the action's result (JSON: HTTP status and answer)."""
        return f"{self.prefix}:admin-results"

    @property
    def admin_idempotency(self) -> str:
        """Hash ``Idempotency-Key`` of an admin request → ``pending`` or its answer (JSON), so a retry
        or a double click is applied once."""
        return f"{self.prefix}:admin-idem"

    @property
    def acks(self) -> str:
        """Hash alert event id → who acknowledged it and when (JSON ``by``, ``at``), shared by every screen."""
        return f"{self.prefix}:acks"

    @property
    def chips(self) -> str:
        """Hash chip code → bib."""
        return f"{self.prefix}:chips"

    @property
    def unknown_chips(self) -> str:
        """Hash chip code → reads seen of a chip that no participant wears."""
        return f"{self.prefix}:unknown"

    @property
    def guns(self) -> str:
        """Hash ``pen:<id>`` / ``pursuer`` → gun time (unix seconds)."""
        return f"{self.prefix}:guns"

    @property
    def manual_status(self) -> str:
        """Hash bib → ``dnf`` / ``dq`` set by race control."""
        return f"{self.prefix}:manual-status"

    @property
    def pursuer_gps(self) -> str:
        """Hash: the pursuer's latest GPS fix (lat, lon, t)."""
        return f"{self.prefix}:gps"

    @property
    def clock(self) -> str:
        """Hash: the race clock (origin_wall, origin_race, speed)."""
        return f"{self.prefix}:clock"

    def mat(self, mat_id: str) -> str:
        """Hash: health counters of one mat (reads, passings, errors, last_read_wall, connected, …)."""
        return f"{self.prefix}:mat:{mat_id}"

    @property
    def ingest(self) -> str:
        """Hash: counters of input that names no mat (unknown locations, unparseable lines)."""
        return f"{self.prefix}:ingest"

    @property
    def readers(self) -> str:
        """Hash ``<address>|errors``, ``|last_error``, ``|who``, ``|at``: refused input per source address."""
        return f"{self.prefix}:readers"

    @property
    def reader_seq(self) -> str:
        """Hash reader location → highest sequence number journaled, for resume after a reconnect."""
        return f"{self.prefix}:seq"

    @property
    def engine_lease(self) -> str:
        """String with an expiry: the token of the process that runs the live engine (``live.store.leader``)."""
        return f"{self.prefix}:engine-lease"

    @property
    def engine_pool(self) -> str:
        """Sorted set: the heartbeats of an event's engine pool (member → expiry, ms), kept in the keys of
        the event's first race like its journal (``live.store.pool``)."""
        return f"{self.prefix}:engine-pool"

    @property
    def feed_seq(self) -> str:
        """String: the last live-feed ``seq`` the engine leader published (never goes down)."""
        return f"{self.prefix}:feed-seq"

    @property
    def feed_epoch(self) -> str:
        """String: the numbering the live feed's ``seq`` belongs to, made once (``live.store.leader``); a Redis
        that lost it starts a new one, and a spectator's ``seq`` from before is not resumed."""
        return f"{self.prefix}:feed-epoch"

    @property
    def frames(self) -> str:
        """Stream: the live feed's ticks as the leader built them (``seq``, ``body``, ``snapshot``,
        ``epoch``), short."""
        return f"{self.prefix}:frames"

    @property
    def feed_state(self) -> str:
        """String: the leader's last snapshot and its seq, encoded (``live.chase.snapshot.encode``), for relays."""
        return f"{self.prefix}:feed-state"

    def bucket(self, kind: str, key: str) -> str:
        """Hash: one token bucket of race control's limits (``t`` tokens, ``at`` when counted), shared
        by every web process (``live.store.buckets``); ``kind`` is ``failed``, ``actions`` or ``reads``."""
        return f"{self.prefix}:limit:{kind}:{key}"

    def bucket_gate(self, kind: str) -> str:
        """Hash: the bucket new ``kind`` buckets take a token from, so clients cannot make them without bound."""
        return f"{self.prefix}:limit-gate:{kind}"
