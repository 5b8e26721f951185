"""Run a simulated race: one emulated ChronoTrack decoder per mat, all connecting to the ingestor."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from live.clock import RaceClock
from live.race import Race
from simulator.chronotrack import EmulatedDecoder
from simulator.trajectory import Gun, Outcome, RacePlan, plan_race, true_outcome


@dataclass(frozen=True)
class SimulationReport:
    """What the emulated mats sent, and the true outcome of the simulated race."""

    lines_per_mat: dict[str, int]  # highest sequence number delivered, per mat
    reads: int  # raw reads planned (tag lines)
    guns: list[Gun]
    connections: int
    outcome: Outcome

    @property
    def winners(self) -> int:
        return self.outcome.winners

    @property
    def winners_per_pen(self) -> dict[str, int]:
        return self.outcome.winners_per_pen

    def __str__(self) -> str:
        pens = ", ".join(f"pen {k}: {v}" for k, v in self.winners_per_pen.items())
        lines = sum(self.lines_per_mat.values())
        return f"{lines:,} lines sent over {len(self.lines_per_mat)} mats; true winners {self.winners:,} ({pens})"


def build_decoders(race: Race, plan: RacePlan, clock: RaceClock) -> dict[str, EmulatedDecoder]:
    """One decoder per mat holding its lines in time order; the start mat also has the guns."""
    decoders = {m.id: EmulatedDecoder(location=m.id, tz=race.timezone, clock=clock) for m in race.mats}
    start = decoders[race.start_mat.mat]
    guns = iter(plan.guns)
    gun = next(guns, None)
    for read in plan.reads:
        while gun is not None and gun.time <= read.time:  # a gun goes before the reads at its time
            start.add_gun(gun.time)
            gun = next(guns, None)
        decoders[read.mat].add_read(read.time, read.chip)
    while gun is not None:
        start.add_gun(gun.time)
        gun = next(guns, None)
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
    """Play the planned race to the ingestor at ``host:port`` as ``clock`` runs; returns once every
    line is delivered or ``stop_event`` is set. The race itself does not depend on the clock's speed."""
    plan = plan_race(race, first_gun, seed=seed, runners=runners)
    decoders = build_decoders(race, plan, clock)
    await asyncio.gather(*(d.run(host, port, stop_event) for d in decoders.values()))
    return SimulationReport(
        lines_per_mat={m: d.sent for m, d in decoders.items()},
        reads=len(plan.reads),
        guns=plan.guns,
        connections=sum(d.connections for d in decoders.values()),
        outcome=true_outcome(plan),
    )
