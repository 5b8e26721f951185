"""The message catalogues, one per language, as gettext reads them.

The sources are ``locales/<lang>/LC_MESSAGES/messages.po`` (English is the messages' own text, so it
has no file). They are compiled in memory at first use (Babel's ``read_po`` then ``write_mo``), so a
plain ``pip install -e .`` works with no build step and a ``.po`` edited in place is what runs.
Messages are marked in the source with ``_("…")`` / ``N_("…")`` in Python and ``t("…")`` in the
pages' JavaScript; ``tests/i18n/test_catalogue.py`` extracts them and checks every one is translated.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("en", "fr")
DEFAULT = "en"
LOCALES = Path(__file__).resolve().parent / "locales"
NAMES = {"en": "English", "fr": "Français"}


def N_(message: str) -> str:  # noqa: N802  (gettext's name for "marked, translated later")
    """Mark ``message`` for the catalogue where it is defined (a table of labels); translate it where
    it is shown."""
    return message


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "messages.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the messages themselves)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: pursuit speaks {', '.join(LANGUAGES)}")
    path = po_path(language)
    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


@dataclass(frozen=True)
class Language:
    """One language: its code, its messages and its way of writing numbers."""

    code: str

    def _(self, message: str, /, **params: object) -> str:
        """``message`` in this language, with ``{name}`` fields filled from ``params``."""
        text = translations(self.code).gettext(message)
        return text.format(**params) if params else text

    def messages(self, msgids: list[str]) -> dict[str, str]:
        """The translations of ``msgids`` that differ from them (the pages' JavaScript dictionary)."""
        got = translations(self.code)
        return {m: got.gettext(m) for m in msgids if got.gettext(m) != m}


@cache
def language(code: str) -> Language:
    """The language named ``code`` (one of ``LANGUAGES``)."""
    translations(code)  # an unknown code fails here, with the languages there are
    return Language(code)


ENGLISH = Language("en")  # the messages as written; the default of functions that take a language
