"""Results files with intermediate splits (the dashathon/Berlin/Chicago format of ``data/results/``).

Pipe-separated (plain or gzipped, ``.gz``), a header row, split columns of elapsed seconds from the runner's own start,
``NaN`` for a missing split. Loaded into arrays: one row per finisher, one column per split.

The scraped files do not quote their free-text fields, so a ``|`` inside a place name (Chicago 2017
women, line 8752: ``RIO|DE JANEIRO``) gives a row more fields than the header. Such a row is still
read exactly: the columns left of the first free-text column (bib, gender) from the left, the
columns after the last one (ranks, splits) from the right.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MARATHON_M = 42195.0
SPLIT_DISTANCES_M = {
    "5k": 5000.0,
    "10k": 10000.0,
    "15k": 15000.0,
    "20k": 20000.0,
    "half": MARATHON_M / 2,
    "25k": 25000.0,
    "30k": 30000.0,
    "35k": 35000.0,
    "40k": 40000.0,
    "finish": MARATHON_M,
}


class ResultsError(ValueError):
    """A results file that cannot be read: names the file, the line and the problem."""


@dataclass(frozen=True)
class Results:
    """Finishers with their elapsed split times (seconds from their own start)."""

    bibs: np.ndarray  # str
    sex: np.ndarray  # str
    split_names: tuple[str, ...]
    at_m: np.ndarray  # distance of each split column
    elapsed_s: np.ndarray  # (runners, splits); nan where a split is missing

    @property
    def finish_s(self) -> np.ndarray:
        return self.elapsed_s[:, -1]

    def row_of(self, bib: str) -> int:
        rows = np.flatnonzero(self.bibs == bib)
        if len(rows) == 0:
            raise ResultsError(f"bib {bib!r} is not in the results")
        return int(rows[0])


FREE_TEXT_COLUMNS = {"city", "state", "country", "name", "club", "team"}


def _realign(row: list[str], header: list[str], text_cols: list[int], where: str) -> list[str]:
    """A row with more fields than the header because a free-text field held the delimiter: keep the
    fields before the first free-text column and after the last one, merge the rest back in."""
    extra = len(row) - len(header)
    if extra < 0 or not text_cols:
        raise ResultsError(f"{where}: {len(row)} fields, header has {len(header)}")
    first, last = text_cols[0], text_cols[-1]
    middle = row[first : last + 1 + extra]
    # which free-text field held the delimiter is unknown: put the surplus into the last one
    merged = middle[: last - first] + ["|".join(middle[last - first :])]
    return row[:first] + merged + row[last + 1 + extra :]


def _clean_splits(values: list[float]) -> list[float]:
    """A split of 0 (London writes 0.0 for a missing split) or one not after the split before it is
    missing: the mat did not read the runner, he did not run backwards."""
    out: list[float] = []
    last = 0.0
    for v in values:
        if not np.isfinite(v) or v <= last:
            out.append(float("nan"))
        else:
            out.append(v)
            last = v
    return out


def load_results(paths: list[Path] | list[str]) -> Results:
    """Read one or more results files (e.g. men's and women's) into one field of finishers."""
    bibs: list[str] = []
    sexes: list[str] = []
    rows: list[list[float]] = []
    names: tuple[str, ...] | None = None
    for path in map(Path, paths):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE)
            header = [h.strip() for h in next(reader, [])]
            split_cols = [i for i, h in enumerate(header) if h in SPLIT_DISTANCES_M]
            if "bib" not in header or "finish" not in header:
                hint = ""
                if len(header) == 1 and ("," in header[0] or ";" in header[0] or "\t" in header[0]):
                    hint = " (the file must be separated by '|', as in data/results/)"
                raise ResultsError(f"{path}: line 1: needs 'bib' and 'finish' columns, got {header!r}{hint}")
            these = tuple(header[i] for i in split_cols)
            if names is not None and these != names:
                raise ResultsError(f"{path}: line 1: split columns {these} differ from the first file's {names}")
            names = these
            bib_col, sex_col = header.index("bib"), header.index("gender") if "gender" in header else None
            text_cols = [i for i, h in enumerate(header) if h in FREE_TEXT_COLUMNS]
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    row = _realign(row, header, text_cols, f"{path}: line {reader.line_num}")
                try:
                    values = [float(row[i]) for i in split_cols]
                except ValueError as exc:
                    raise ResultsError(f"{path}: line {reader.line_num}: a split is not a number: {exc}") from exc
                values = _clean_splits(values)
                if np.isnan(values[-1]):
                    continue  # not a finisher
                bibs.append(row[bib_col].strip())
                sexes.append(row[sex_col].strip() if sex_col is not None else "")
                rows.append(values)
    if names is None or not rows:
        raise ResultsError(f"no finishers in {', '.join(map(str, paths))}")
    return Results(
        bibs=np.array(bibs, dtype=object),
        sex=np.array(sexes, dtype=object),
        split_names=names,
        at_m=np.array([SPLIT_DISTANCES_M[n] for n in names]),
        elapsed_s=np.array(rows, dtype=float),
    )
