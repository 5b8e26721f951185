"""The commentary's and race control's event texts, as templates the pages translate.

The feeds keep their ``text`` (English, the SPEC's contract); a page in another language writes the
text again from the event's ``kind`` and structured fields with the template here (in the page's
dictionary, ``dashboard/language.py``). Fields: the event's own (``name``, ``bib``, ``pen``,
``mat``, ``won``, ``winners``, ``low``, ``high``, ``quota``, ``running``, ``margin``) and what the page
adds: ``pursuer`` (his name), ``km`` (``at_m`` in km), ``split``/``pace`` (clock times),
``place`` (the mat's name). A kind without a template here keeps the feed's text.
"""

from __future__ import annotations

from i18n.catalogue import N_

EVENT_TEMPLATES: dict[str, str] = {
    "caught": N_("{pursuer} catches {name} (bib {bib}, pen {pen}) at {km}."),
    "milestone_first": N_("First catch: {pursuer} is in the field."),
    "milestone_one": N_("First runner home ahead of {pursuer}."),
    "milestone_won": N_("{won} runners have beaten {pursuer}."),
    "pursuer_split": N_("{pursuer} passes {place} ({km}) in {split}."),
    "pursuer_reaches_pen": N_("{pursuer} reaches pen {pen}: first catch there."),
    "close_escape": N_("Closest escape: {name} (bib {bib}) beat {pursuer} by {margin} s."),
    "final": N_("{pursuer} finishes. {won} runners beat him."),
    "forecast": N_("Forecast: {winners} winners, between {low} and {high}."),
    "car_milestone": N_("{running} runners still running at {km}."),
    "last_running": N_("Last runner of their sex still running: {name} (bib {bib}) at {km}."),
    "last_caught": N_("Last runner of their sex caught at {km}: {name} (bib {bib})."),
    "pursuer_missed_mat": N_("ALERT: {pursuer} was not read at {place} ({km}); check the mat."),
    "catch_undone": N_("Correction: bib {bib} was read ahead of {pursuer}; not caught after all."),
    "runner_missed_mat": N_("ALERT: bib {bib} was not read at {place} ({km}) but was read later."),
    "impossible_passing": N_("ALERT: bib {bib}'s passing at {place} ({km}) is impossible; kept, not used."),
    "runner_overdue": N_("ALERT: bib {bib} is overdue at {place} ({km})."),
    "mat_clock": N_(
        "ALERT: mat {place}'s decoder clock is {clock_offset_s} s off the race clock: check its time sync."
    ),
    "mat_silent": N_("ALERT: mat {place} is connected but has read nothing for {silent_s} s."),
    "reader_errors": N_("ALERT: {address} has sent {errors} refused lines. Check the reader's settings."),
    "unknown_chip": N_("ALERT: chip {chip} is worn by no participant ({reads} reads); assign it to a bib if known."),
    "redis_memory": N_("ALERT: Redis uses {used_mb} MB of {maxmemory_mb} MB: raise maxmemory or find what fills it."),
    "journal_full": N_("ALERT: the journal holds {entries} entries of {cap}: copy it and find who floods the readers."),
}
