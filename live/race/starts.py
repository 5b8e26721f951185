"""Who starts when, as ``race.toml`` says it: the optional ``[pursuer]`` table, the ``[[pens]]`` (a head
start before the pursuer, or a time of day) and the optional ``[quotas]`` table.

A race without ``[pursuer]`` is a plain timed race: its pens need their own start (``start =
"HH:MM:SS"`` on the race date), since ``head_start_s`` counts back from the pursuer's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from live.race.errors import RaceError
from live.race.race import Participant, Pen, Pursuer
from live.race.schedule import SpeedSchedule
from live.race.toml import TomlDoc

QUOTA_GROUPS = ("sex", "category")  # [quotas] sex.F = 250, category.Master = 100


def load_pursuer(cfg: TomlDoc, day: date, tz: ZoneInfo, schedule: SpeedSchedule | None) -> Pursuer | None:
    """The ``[pursuer]`` table, or None when the race has none (a plain timed race)."""
    if cfg.get("pursuer") is None:
        return None
    pace_default: object = 3600.0 / schedule.steps[0][1] if schedule else cfg._MISSING
    return Pursuer(
        bib=cfg.str("pursuer.bib"),
        name=cfg.str("pursuer.name"),
        pace_s_per_km=cfg.number("pursuer.pace_s_per_km", default=pace_default, positive=True),
        planned_start=datetime.combine(day, cfg.time("pursuer.start"), tzinfo=tz),
        schedule=schedule,
    )


def load_pens(cfg: TomlDoc, day: date, tz: ZoneInfo, pursuer: Pursuer | None) -> tuple[Pen, ...]:
    """The ``[[pens]]`` tables in release order (earliest start first). Each pen gives ``head_start_s``
    (seconds before the pursuer's start) or ``start`` (its time of day on the race date), not both;
    without a pursuer only ``start`` means anything."""
    pens: list[Pen] = []
    for i, _ in enumerate(cfg.list("pens")):
        key = f"pens[{i}]"
        pen_id = cfg.str(f"{key}.id")
        if any(p.id == pen_id for p in pens):
            raise RaceError(cfg.path, f"{key}.id", f"pen {pen_id!r} is defined twice")
        has_head, has_start = cfg.get(f"{key}.head_start_s") is not None, cfg.get(f"{key}.start") is not None
        if has_head and has_start:
            raise RaceError(cfg.path, key, "give head_start_s or start, not both")
        head: float | None
        if has_start:
            planned = datetime.combine(day, cfg.time(f"{key}.start"), tzinfo=tz)
            head = None
            if pursuer is not None:
                head = (pursuer.planned_start - planned).total_seconds()
                if head <= 0:
                    raise RaceError(
                        cfg.path,
                        f"{key}.start",
                        f"{planned:%H:%M:%S} is not before the pursuer's start ({pursuer.planned_start:%H:%M:%S})",
                    )
        elif pursuer is None:
            why = "head_start_s counts back from the pursuer's start and this race has no [pursuer]"
            raise RaceError(
                cfg.path,
                f"{key}.head_start_s" if has_head else f"{key}.start",
                f'{why}: give the pen\'s start as a time of day (start = "HH:MM:SS")'
                if has_head
                else 'missing: a race without [pursuer] needs each pen\'s start = "HH:MM:SS"',
            )
        else:
            head = cfg.number(f"{key}.head_start_s", positive=True)
            planned = pursuer.planned_start - timedelta(seconds=head)
        pens.append(
            Pen(
                id=pen_id,
                name=cfg.str(f"{key}.name", default=f"Pen {pen_id}"),
                head_start_s=head,
                planned_start=planned,
            )
        )
    if not pens:
        raise RaceError(cfg.path, "pens", "at least one [[pens]] table is needed")
    return tuple(sorted(pens, key=lambda p: p.planned_start))


def load_quotas(cfg: TomlDoc, participants: Iterable[Participant]) -> dict[str, dict[str, int]]:
    """The optional ``[quotas]`` table: winners (finishers in a race without a pursuer) wanted per sex
    and per category, ``sex.F = 250``, ``category.Master = 100``; a label nobody has is an error."""
    raw = cfg.get("quotas", {})
    if not isinstance(raw, dict):
        raise RaceError(cfg.path, "quotas", "must be a table: sex.F = 250, category.Master = 100")
    people = list(participants)
    quotas: dict[str, dict[str, int]] = {}
    for group, table in raw.items():
        if group not in QUOTA_GROUPS:
            raise RaceError(cfg.path, f"quotas.{group}", f"unknown group; quotas are by {' or '.join(QUOTA_GROUPS)}")
        if not isinstance(table, dict):
            raise RaceError(cfg.path, f"quotas.{group}", f"must be a table: {group}.<label> = <count>")
        labels = {getattr(p, group) for p in people}
        quotas[group] = {}
        for label, count in table.items():
            key = f"quotas.{group}.{label}"
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise RaceError(cfg.path, key, f"must be a whole number ≥ 0, got {count!r}")
            if label not in labels:
                known = ", ".join(sorted(x for x in labels if x)) or "none"
                raise RaceError(cfg.path, key, f"no participant has {group} {label!r} (the file has: {known})")
            quotas[group][label] = count
    return quotas
