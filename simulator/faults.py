"""Faults on demand (``pursuit simulate --faults drop,dup,garble,unknown,pursuer-miss,silent|all``).

Faults of the wire (``drop``, ``dup``, ``garble``) are recoverable: each protocol's resume, resend
or rewind, and the ingestor's idempotent apply, must end in the same passings as a clean run.
Faults of the data (``unknown``, ``pursuer-miss``, ``silent``) change what the mats saw; what no
mat saw is reported missing by the simulator (``simulator/observations.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

NAMES = ("drop", "dup", "garble", "unknown", "pursuer-miss", "silent")
DROPS = (0.3, 0.65)  # a reader loses its connection after these shares of its reports
DUP_EVERY = 17  # every n-th report is delivered twice
GARBLE_EVERY = 23  # line noise after every n-th report


@dataclass(frozen=True)
class Faults:
    """Which faults to inject."""

    drop: bool = False
    dup: bool = False
    garble: bool = False
    unknown: bool = False
    pursuer_miss: bool = False
    silent: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Faults:
        """``"drop,dup"``, ``"all"`` or empty; an unknown name is a ``ValueError`` naming the known ones."""
        names = {n.strip() for n in (text or "").split(",") if n.strip()}
        if "all" in names:
            names = (names - {"all"}) | set(NAMES)
        unknown = names - set(NAMES)
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(sorted(unknown))}: choose from {', '.join(NAMES)} or all")
        return cls(**{n.replace("-", "_"): True for n in names})

    def __str__(self) -> str:
        on = [n for n in NAMES if getattr(self, n.replace("-", "_"))]
        return ",".join(on) or "none"


@dataclass(frozen=True)
class WireFaults:
    """When one reader's connection fails, which reports it repeats, and where noise is injected."""

    drop_after: tuple[int, ...] = ()  # report counts after which the connection is lost
    dup_every: int = 0
    garble_every: int = 0

    @classmethod
    def for_reader(cls, faults: Faults, reports: int) -> WireFaults:
        drops = tuple(sorted({max(1, int(share * reports)) for share in DROPS})) if faults.drop and reports > 2 else ()
        return cls(drops, DUP_EVERY if faults.dup else 0, GARBLE_EVERY if faults.garble else 0)

    def dup(self, index: int) -> bool:
        """Whether report ``index`` (0-based) goes out twice."""
        return self.dup_every > 0 and index % self.dup_every == self.dup_every - 1

    def garble(self, index: int) -> bool:
        """Whether line noise follows report ``index``."""
        return self.garble_every > 0 and index % self.garble_every == self.garble_every // 2

    def dup_any(self, first: int, end: int) -> bool:
        """Whether a message carrying reports ``first``…``end − 1`` goes out twice."""
        return any(self.dup(i) for i in range(first, end))

    def garble_any(self, first: int, end: int) -> bool:
        """Whether line noise follows a message carrying reports ``first``…``end − 1``."""
        return any(self.garble(i) for i in range(first, end))
