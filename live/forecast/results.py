"""Results files with intermediate splits (the dashathon/Berlin/Chicago format of ``data/results/``).

Pipe-separated (plain or gzipped, ``.gz``), a header row, split columns of elapsed seconds from the runner's own start,
``NaN`` for a missing split. Loaded into arrays: one row per runner, one column per split.

Real files come as they come. A row is skipped only when nothing in it can be used, and every skip
is reported with the user's file and line (:attr:`Results.skipped`, :func:`skip_report`): no bib,
fewer fields than the header, no split at all, or an exact copy of an earlier row. A split that is
empty, ``NaN``, ``0`` or text is a split the timing missed (counted, :attr:`Results.unreadable`). A
row with splits but no finish is a runner who did not finish (DNF): kept, his finish ``NaN``; a
replay plays him up to his last split and he never wins. Rows may come in any order.

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
class Skipped:
    """A row of a results file that could not be used (or a split in it that could not), and why."""

    path: str
    line: int
    reason: str


@dataclass(frozen=True)
class Results:
    """Runners with their elapsed split times (seconds from their own start): finishers, and runners
    who did not finish (finish ``nan``)."""

    bibs: np.ndarray  # str
    sex: np.ndarray  # str
    split_names: tuple[str, ...]
    at_m: np.ndarray  # distance of each split column
    elapsed_s: np.ndarray  # (runners, splits); nan where a split is missing
    skipped: tuple[Skipped, ...] = ()  # rows left out, by file and line
    unreadable: tuple[Skipped, ...] = ()  # splits that were not a number (the row kept, the split missing)

    @property
    def finish_s(self) -> np.ndarray:
        return self.elapsed_s[:, -1]

    @property
    def finished(self) -> np.ndarray:
        """bool per row: the runner has a finish time (the others did not finish)."""
        out: np.ndarray = ~np.isnan(self.elapsed_s[:, -1])
        return out

    def finishers(self) -> Results:
        """The same results without the runners who did not finish (what a fit learns from)."""
        keep = self.finished
        return Results(
            self.bibs[keep],
            self.sex[keep],
            self.split_names,
            self.at_m,
            self.elapsed_s[keep],
            self.skipped,
            self.unreadable,
        )

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


def _number(cell: str) -> tuple[float, bool]:
    """A split cell as seconds, and whether it was readable: empty, ``NaN`` and text are missing."""
    text = cell.strip()
    if not text or text.lower() in ("nan", "na", "-", "--"):
        return float("nan"), True
    try:
        return float(text), True
    except ValueError:
        return float("nan"), False


def load_results(paths: list[Path] | list[str]) -> Results:
    """Read one or more results files (e.g. men's and women's) into one field: every row that can be
    used, the others reported in ``skipped`` by file and line."""
    bibs: list[str] = []
    sexes: list[str] = []
    rows: list[list[float]] = []
    skipped: list[Skipped] = []
    unreadable: list[Skipped] = []
    seen: dict[tuple[str, tuple[float, ...]], str] = {}
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
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    try:
                        row = _realign(row, header, text_cols, f"{path}: line {line}")
                    except ResultsError:
                        skipped.append(Skipped(str(path), line, f"{len(row)} fields, header has {len(header)}"))
                        continue
                cells = [_number(row[i]) for i in split_cols]
                bad = [header[c] for c, (_, ok) in zip(split_cols, cells, strict=True) if not ok]
                values = _clean_splits([v for v, _ in cells])
                bib = row[bib_col].strip()
                if not bib:
                    skipped.append(Skipped(str(path), line, "bib is empty"))
                    continue
                if all(np.isnan(values)):
                    why = "a split is not a number" if bad else "no split and no finish (did not start)"
                    skipped.append(Skipped(str(path), line, why))
                    continue
                key = (bib, tuple(np.nan_to_num(values, nan=-1.0).tolist()))
                if key in seen:
                    skipped.append(Skipped(str(path), line, f"same bib and splits as {seen[key]}"))
                    continue
                seen[key] = f"{path.name}: line {line}"
                if bad:
                    unreadable.append(Skipped(str(path), line, f"{', '.join(bad)}: not a number"))
                bibs.append(bib)
                sexes.append(row[sex_col].strip() if sex_col is not None else "")
                rows.append(values)
    if names is None or not rows:
        why = "".join(f"\n{s.path}: line {s.line}: {s.reason}" for s in skipped[:5])
        raise ResultsError(f"no runners in {', '.join(map(str, paths))}{why}")
    return Results(
        bibs=np.array(bibs, dtype=object),
        sex=np.array(sexes, dtype=object),
        split_names=names,
        at_m=np.array([SPLIT_DISTANCES_M[n] for n in names]),
        elapsed_s=np.array(rows, dtype=float),
        skipped=tuple(skipped),
        unreadable=tuple(unreadable),
    )


def skip_report(results: Results, shown: int = 5) -> list[str]:
    """One line per file with rows skipped or splits unreadable: how many, why, and the first lines;
    and the runners who did not finish."""
    out = []
    for what, items in (
        ("row(s) skipped", results.skipped),
        ("split(s) not a number, read as missing", results.unreadable),
    ):
        by_file: dict[str, dict[str, list[int]]] = {}
        for s in items:
            reason = s.reason if what.startswith("row") else "not a number"
            by_file.setdefault(s.path, {}).setdefault(reason.split(" as ")[0], []).append(s.line)
        for path, reasons in by_file.items():
            parts = [
                f"{len(lines)} {reason} (line{'s' if len(lines) > 1 else ''} "
                f"{', '.join(map(str, lines[:shown]))}{', …' if len(lines) > shown else ''})"
                for reason, lines in reasons.items()
            ]
            out.append(f"{path}: {sum(map(len, reasons.values()))} {what}: {'; '.join(parts)}")
    dnf = int((~results.finished).sum())
    if dnf:
        out.append(f"{dnf:,} runner(s) with splits but no finish: did not finish, replayed up to their last split")
    return out
