"""Synthetic participant fields: deterministic for a seed, shaped like the J-1000 entry list."""

from __future__ import annotations

import random
from collections.abc import Iterator

from live.race.race import Participant

FIRST_NAMES = (
    "Camille Léa Manon Chloé Inès Sarah Jade Louise Emma Alice Julie Marie Claire Anaïs Pauline Lucie "
    "Thomas Lucas Hugo Louis Nathan Théo Jules Arthur Paul Maxime Antoine Nicolas Julien Romain Karim Yanis"
).split()
LAST_NAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel "
    "Garcia David Bertrand Roux Vincent Fournier Morel Girard André Mercier Dupont Lambert Bonnet François "
    "Martinez Legrand Garnier Faure Rousseau Blanc Guerin Muller Henry Roussel Nicolas Perrin Mathieu Diallo"
).split()

# pen id -> (runners, fastest and slowest declared 5 km time in seconds); pen 1 is the slowest,
# released first. The spread inside a pen follows the J-1000's "by declared level" rule.
PENS: dict[str, tuple[int, float, float]] = {
    "1": (760, 1700, 2700),
    "2": (760, 1500, 1850),
    "3": (720, 1350, 1560),
    "4": (700, 1200, 1400),
    "5": (659, 1000, 1220),
}


def generate_field(seed: int = 2021, first_bib: int = 100) -> Iterator[Participant]:
    """Yield the runners of a J-1000-like field (without the pursuer), reproducible by ``seed``."""
    rng = random.Random(seed)
    total = sum(n for n, _, _ in PENS.values())
    chip_numbers = rng.sample(range(0x100000, 0xFFFFFF), total)
    bib = first_bib
    for pen, (count, fast_s, slow_s) in PENS.items():
        for _ in range(count):
            sex = "F" if rng.random() < 0.38 else "M"
            # right-skewed inside the pen: more runners near the fast end of their level
            declared = fast_s + (slow_s - fast_s) * rng.betavariate(1.6, 2.4)
            first = rng.choice(FIRST_NAMES[:16] if sex == "F" else FIRST_NAMES[16:])
            yield Participant(
                bib=str(bib),
                chips=(f"{chip_numbers[bib - first_bib]:06X}",),
                name=f"{first} {rng.choice(LAST_NAMES)}",
                pen=pen,
                sex=sex,
                category="Senior" if rng.random() < 0.7 else "Master",
                declared_s=round(declared),
            )
            bib += 1
