"""The one error a race directory raises: the file, the line or key, and what is wrong."""

from __future__ import annotations

from pathlib import Path


class RaceError(ValueError):
    """A race directory is wrong: names the file, the line or key, and what is wrong."""

    def __init__(self, file: Path | str, where: str, message: str) -> None:
        self.file = str(file)
        self.where = where
        self.message = message
        super().__init__(f"{self.file}: {where}: {message}" if where else f"{self.file}: {message}")
