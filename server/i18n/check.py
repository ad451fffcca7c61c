"""``python -m server.i18n check``: the msgids written in templates and JS (found by Babel's own
extractors, as ``make messages`` finds them for ``pwa/locale/messages.pot``) and the sync
engine's message templates that have no Chinese translation, and translations of sync templates
whose placeholders their messages do not carry. It exits 1 if there is any."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from server.i18n.catalogues import catalogue, key
from sync.wire import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
BABEL_CFG = ROOT / "babel.cfg"  # paths in it are relative to pwa/
PWA = ROOT / "pwa"


def used_msgids(root: Path | None = None) -> set[str]:
    """Every msgid written in a template (``_``, ``pgettext``, ``ngettext``) or the app's JS
    (``t``, ``pt``) under ``root`` (``pwa/``), as Babel extracts it with ``babel.cfg``. A message
    with a context is keyed as the catalogue keys it (``catalogues.key``); a plural gives both
    of its ids."""
    base = root or PWA
    with BABEL_CFG.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(BABEL_CFG))
    found: set[str] = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        base, method_map, options_map
    ):
        ids = message if isinstance(message, tuple) else (message,)
        found.update(key(context, msgid) for msgid in ids if msgid)
    return found


def sync_templates() -> dict[str, frozenset[str]]:
    """Every message template the sync engine can put in a rejected mutation's ``errors``,
    with the parameters its messages carry."""
    import sync.engine  # noqa: F401  (importing the engine declares every template)

    return {str(msgid): params for msgid, params in TEMPLATES.items()}


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def placeholder_problems(lang: str = "zh-CN") -> list[str]:
    """Translations of sync templates that use a parameter their messages do not carry (it
    would raise ``KeyError`` when rendered) or none of them (the numbers would be lost)."""
    problems: list[str] = []
    known = catalogue(lang)
    for msgid, given in sorted(sync_templates().items()):
        text = known.get(msgid)
        if text is None:
            continue
        used = set(_PLACEHOLDER.findall(text))
        if used - given or (given and not used):
            problems.append(f"{msgid}  →  {text}")
    return problems


def untranslated(root: Path | None = None, lang: str = "zh-CN") -> list[str]:
    """msgids used in templates and JS, and sync templates, with no translation in ``lang``."""
    return sorted((used_msgids(root) | set(sync_templates())) - set(catalogue(lang)))


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"]:
        missing = untranslated()
        for msgid in missing:
            print(msgid)
        problems = placeholder_problems()
        for line in problems:
            print("placeholders differ:", line)
        return 1 if missing or problems else 0
    print("usage: python -m server.i18n check")
    return 2
