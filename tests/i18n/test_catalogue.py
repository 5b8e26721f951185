"""The catalogues cover every message: Babel's extractor (the mapping of ``i18n/babel.cfg``) over the
pages (``dashboard/``, their scripts), the event templates and the results headers finds each marked
message, and the French catalogue must translate each one, with the same ``{fields}``. No text
shown to a person may escape the marking: a plain string given to a Dash component or to the page
scripts' text setters fails here, as does a ``T("…")`` the extractor cannot see (nested in another's
arguments). The pages' dictionaries hold both languages' messages, and a spectator page carries
none of race control's."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_javascript
from babel.messages.pofile import read_po

from dashboard.language import dictionary, script_messages
from dashboard.page_assets import page_scripts
from i18n.catalogue import LANGUAGES, po_path
from i18n.events import EVENT_TEMPLATES
from live.engine.events import ALERT_KINDS, STORY_KINDS

ROOT = Path(__file__).resolve().parents[2]
CFG = ROOT / "i18n" / "babel.cfg"
KEYWORDS = {"_": None, "N_": None, "T": None}
SCRIPTS = sorted([*(ROOT / "dashboard" / "assets").glob("*.js"), *(ROOT / "dashboard" / "static").glob("*.js")])
# kinds whose text is the feed's in every language: an operator's own words (a held gun's reason)
UNTEMPLATED_KINDS = {"gun_held"}


def method_map() -> list[tuple[str, str]]:
    """``i18n/babel.cfg`` as Babel's extractor takes it (the same file ``pybabel extract -F`` reads)."""
    return [
        (m[1].split(":", 1)[1].strip(), m[1].split(":", 1)[0])
        for line in CFG.read_text(encoding="utf-8").splitlines()
        if (m := re.match(r"^\[(.+)\]$", line.strip()))
    ]


def extracted() -> dict[str, str]:
    """Every marked message of the sources -> where it is (file:line)."""
    found: dict[str, str] = {}
    for path, line, message, _, _ in extract_from_dir(str(ROOT), method_map(), keywords=KEYWORDS):
        text = message if isinstance(message, str) else message[0]
        if text:
            found.setdefault(text, f"{path}:{line}")
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def catalogue(language: str) -> dict[str, str]:
    with po_path(language).open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and not m.fuzzy}


def test_the_extractor_finds_the_pages_the_scripts_and_the_event_texts():
    found = extracted()
    assert len(found) > 250, len(found)
    for where in (
        "dashboard/follow.py",
        "dashboard/assets/pursuit.js",
        "dashboard/assets/console.js",
        "i18n/events.py",
    ):
        assert any(w.startswith(where) for w in found.values()), where


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_message_has_a_translation_with_the_same_fields(language: str):
    """English is the messages themselves; every other language translates each of them."""
    translated = catalogue(language)
    missing = {m: where for m, where in extracted().items() if not translated.get(m)}
    assert not missing, f"not translated in {po_path(language)} (pybabel update, then translate): {missing}"
    wrong = {m: t for m, t in translated.items() if fields(m) != fields(t)}
    assert not wrong, f"a translation with other {{fields}} than its message: {wrong}"


def test_every_script_message_is_seen_by_the_extractor():
    """A ``T("…")`` the extractor misses (inside another call's arguments) would reach the page untranslated."""
    unseen = {}
    for path in SCRIPTS:
        source = path.read_text(encoding="utf-8")
        with path.open("rb") as f:
            seen = {m if isinstance(m, str) else m[0] for _, _, m, _ in extract_javascript(f, {"T": None}, [], {})}
        literal = set(re.findall(r'\bT\("((?:[^"\\]|\\.)*)"', source)) - {"English text"}  # the comment's example
        if literal - seen:
            unseen[path.name] = sorted(literal - seen)
    assert not unseen, f'hoist these T("…") out of the arguments they sit in: {unseen}'


SHOWN_KEYWORDS = {"placeholder", "title", "children", "label"}  # Dash props a person reads


def plain_texts(source: str) -> list[tuple[int, str]]:
    """String constants with a word in them given as a Dash component's text (first argument, or a
    prop a person reads) instead of through the catalogue."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if not (isinstance(owner, ast.Name) and owner.id in ("html", "dcc") and node.func.attr[:1].isupper()):
            continue
        given = node.args[:1] + [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
        for value in given:
            out += [(c.lineno, c.value) for c in direct_strings(value) if re.search(r"[A-Za-z]{2}", c.value)]
    return out


def direct_strings(node: ast.AST) -> list[ast.Constant]:
    """The string constants that are ``node``'s value itself (through lists, ``a if c else b``, ``+``,
    f-strings), not those handed to a call in it (``lang._("…")``, a nested component: checked apart)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    if isinstance(node, (ast.List, ast.Tuple, ast.IfExp, ast.BinOp, ast.BoolOp, ast.JoinedStr, ast.FormattedValue)):
        parts = [node.body, node.orelse] if isinstance(node, ast.IfExp) else list(ast.iter_child_nodes(node))
        return [c for part in parts for c in direct_strings(part)]
    return []


def test_no_page_gives_a_component_an_untranslated_text():
    found = {}
    for path in sorted((ROOT / "dashboard").glob("*.py")):
        texts = plain_texts(path.read_text(encoding="utf-8"))
        if texts:
            found[path.name] = texts
    assert not found, f"text shown without the catalogue (wrap it in lang._(…)): {found}"


# the scripts' ways of putting text on the page: el(tag, class, TEXT), setText(id, TEXT),
# .textContent = TEXT, .title = / .placeholder = TEXT, say(TEXT), T-less button labels
JS_SHOWN = re.compile(
    r'el\("[a-z0-9]+",\s*[^,()]+,\s*"(?P<a>[^"]*[A-Za-z]{2}[^"]*)"\)'
    r'|setText\([^,]+,\s*"(?P<b>[^"]*[A-Za-z]{2}[^"]*)"'
    r'|\.(?:textContent|title|placeholder)\s*=\s*"(?P<c>[^"]*[A-Za-z]{2}[^"]*)"'
    r'|\bsay\("(?P<d>[^"]*[A-Za-z]{2}[^"]*)"'
    r'|\b(?:button|labelled|section)\([^,()]*,?\s*"(?P<e>[A-Z][^"]*)"'
)


def test_no_script_puts_an_untranslated_text_on_the_page():
    found = {}
    for path in SCRIPTS:
        hits = [
            (n, next(g for g in m.groups() if g))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            for m in JS_SHOWN.finditer(line)
        ]
        if hits:
            found[path.name] = hits
    assert not found, f'text shown without T("…"): {found}'


def test_every_event_kind_has_a_template_or_keeps_its_text_on_purpose():
    kinds = {*STORY_KINDS, *ALERT_KINDS}
    keyed = {k.split("_")[0] if k.startswith("milestone_") else k for k in EVENT_TEMPLATES}
    assert kinds - keyed == UNTEMPLATED_KINDS, kinds - keyed


def test_the_pages_carry_both_languages_and_a_spectator_page_no_race_control_message():
    control, spectator = script_messages(page_scripts(True)), script_messages(page_scripts(False))
    console_only = set(control) - set(spectator)
    assert "Sign in" in console_only and "Release / start" in console_only
    french = dictionary("fr", page_scripts(False))
    assert '"lang": "fr"' in french and '"Find a runner"' not in french  # the layout's text is not the script's
    assert not any(f'"{m}":' in french for m in console_only), "a spectator page carries race control's messages"
    assert all(f'"{m}":' in french for m in spectator if catalogue("fr").get(m) not in (None, m))
    english = dictionary("en", page_scripts(False))
    assert '"messages": {}' in english  # English: the messages themselves, nothing to carry
