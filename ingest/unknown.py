"""A cap on the chips no participant wears that one reader connection may introduce.

Reads of an unknown chip are kept (race control may assign the chip to a bib later, and its reads
are then applied), so each new one costs Redis a little; past ``MAX_UNKNOWN_CHIPS`` distinct ones a
connection is sending noise, and reads of yet more are refused with that reason.
"""

from __future__ import annotations

from live.race.race import Race

MAX_UNKNOWN_CHIPS = 1_000  # distinct chips no participant wears, per connection


class UnknownChips:
    """The unknown chips one connection has sent, up to ``MAX_UNKNOWN_CHIPS``."""

    def __init__(self, race: Race) -> None:
        self.race = race
        self.seen: set[str] = set()

    def refusal(self, chip: str) -> str | None:
        """Why a read of ``chip`` is refused (a new unknown chip past the cap); None to take it."""
        if chip in self.seen or self.race.bib_for_chip(chip) is not None:
            return None
        if len(self.seen) >= MAX_UNKNOWN_CHIPS:
            return f"chip {chip!r} is worn by no participant, and this connection sent {MAX_UNKNOWN_CHIPS} such already"
        self.seen.add(chip)
        return None
