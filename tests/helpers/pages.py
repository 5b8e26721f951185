"""The race the page tests open: the default race with one runner named like an HTML injection."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from live.race.race import Race
from live.race.race_file import load_race
from tests.helpers.paths import PARIS

XSS_BIB = "120"
XSS_NAME = "<img src=x onerror=alert(1)>"
RUNNERS = 800


def race_with_a_hostile_name(tmp: Path) -> Race:
    """The default race, with one runner named like an HTML injection."""
    shutil.copytree(PARIS, tmp, dirs_exist_ok=True)
    path = tmp / "participants.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["bib"] == XSS_BIB:
            row["name"] = XSS_NAME
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return load_race(tmp)
