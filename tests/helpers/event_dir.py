"""An event directory of two races, written for a test."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write_event(root: Path, runners: int = 40, second: str = "chase-b", delay_min: int = 0) -> Path:
    """An event directory at ``root``: two copies of the Paris J-1000 with ``runners`` runners each
    (and the pursuer), sharing every mat; the second race's id is ``second``, its chips differ and it
    starts ``delay_min`` minutes after the first."""
    paris = ROOT / "races" / "paris-j1000"
    for name, prefix in (("chase-a", ""), (second, "B")):
        directory = root / name
        shutil.copytree(paris, directory)
        toml = (directory / "race.toml").read_text(encoding="utf-8").replace('id = "paris-j1000"', f'id = "{name}"')
        if prefix:
            toml = toml.replace('start = "10:19:00"', f'start = "10:{19 + delay_min:02d}:00"')
        (directory / "race.toml").write_text(toml, encoding="utf-8")
        with (paris / "participants.csv").open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        with (directory / "participants.csv").open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(rows[0])
            for row in rows[1 : runners + 2]:
                out.writerow([row[0], prefix + row[1], *row[2:]])
    (root / "event.toml").write_text(
        '[event]\nid = "paris-2024"\nname = "Paris 2024"\ntimezone = "Europe/Paris"\ndate = 2021-10-31\n'
        f'races = ["chase-a", "{second}"]\n',
        encoding="utf-8",
    )
    return root
