"""The results CSV's column names as a person reads them. The machine names (``place``, ``gun_s``…)
are the SPEC's contract and stay the default; ``GET /api/results.csv?lang=fr`` writes these in the
header row instead, for a download opened in a spreadsheet."""

from __future__ import annotations

import csv
import io

from i18n.catalogue import N_, Language

RESULT_HEADERS = {
    "place": N_("place"),
    "bib": N_("bib"),
    "name": N_("name"),
    "pen": N_("pen"),
    "sex": N_("sex"),
    "category": N_("category"),
    "status": N_("status"),
    "finish_time": N_("finish time"),
    "gun_s": N_("gun time (s)"),
    "net_s": N_("net time (s)"),
    "margin_s": N_("margin to the pursuer (s)"),
    "distance_m": N_("distance (m)"),
    "caught_at_m": N_("caught at (m)"),
    "caught_time": N_("caught at (time)"),
    "win_probability": N_("chance to win"),
    "place_sex": N_("place by sex"),
    "place_category": N_("place in category"),
}


def with_display_header(body: str, lang: Language) -> str:
    """``body`` (a CSV with the machine column names) with its header row in ``lang``."""
    first, sep, rest = body.partition("\r\n")
    columns = next(csv.reader([first]))
    out = io.StringIO()
    csv.writer(out).writerow([lang._(RESULT_HEADERS.get(c, c)) for c in columns])
    return out.getvalue() + rest if sep else out.getvalue()
