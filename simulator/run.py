"""Run a simulated race: one emulated decoder per mat, all connecting to the ingestor."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from live.clock import RaceClock
from live.race import Race
from simulator.chronotrack import EmulatedDecoder
from simulator.trajectory import RacePlan, plan_race


@dataclass(frozen=True)
class SimulationReport:
    """What the emulated mats sent, and the true outcome of the simulated race."""

    lines_per_mat: dict[str, int]
    reads: int
    connections: int
    winners_per_pen: dict[str, int]

    @property
    def winners(self) -> int:
        return sum(self.winners_per_pen.values())

    def __str__(self) -> str:
        pens = ", ".join(f"pen {k}: {v}" for k, v in self.winners_per_pen.items())
        return f"{self.reads:,} reads sent over {len(self.lines_per_mat)} mats; true winners {self.winners:,} ({pens})"


def build_decoders(race: Race, plan: RacePlan, clock: RaceClock) -> dict[str, EmulatedDecoder]:
    """One decoder per mat with its reads and, on the start mat, the gun markers."""
    decoders = {
        m.id: EmulatedDecoder(
            location=m.id,
            reader_id=hashlib.sha1(m.id.encode()).hexdigest()[:6].upper(),
            tz=race.timezone,
            clock=clock,
        )
        for m in race.mats
    }
    start = decoders[race.start_mat.mat]
    events: list[tuple[float, int, str, str]] = [(t, 0, "gun", "") for t, _ in plan.guns]
    events += [(t, 1, mat, chip) for t, mat, chip in plan.reads]
    events.sort()
    for t, _, mat, chip in events:
        if mat == "gun":
            start.add_gun(t)
        else:
            decoders[mat].add_read(t, chip)
    return decoders


async def simulate(
    race: Race,
    host: str,
    port: int,
    *,
    clock: RaceClock,
    first_gun: float,
    seed: int = 2021,
    runners: int | None = None,
    stop_event: asyncio.Event | None = None,
) -> SimulationReport:
    """Play the planned race to the ingestor at ``host:port`` as the race clock runs."""
    plan = plan_race(race, first_gun, seed=seed, runners=runners)
    decoders = build_decoders(race, plan, clock)
    await asyncio.gather(*(d.run(host, port, stop_event) for d in decoders.values()))
    return SimulationReport(
        lines_per_mat={m: d.sent for m, d in decoders.items()},
        reads=len(plan.reads),
        connections=sum(d.connections for d in decoders.values()),
        winners_per_pen=plan.winners(),
    )
