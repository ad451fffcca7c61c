"""The Chinese catalogues: every ``.po`` file in ``pwa/locale/zh_CN/LC_MESSAGES`` read and merged
at start (no ``.mo`` build step), as a gettext object for Python and Jinja and as a flat
``{msgid: translation}`` mapping for the phone's JS."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from sync.wire import Message

LOCALE_DIR = Path(__file__).resolve().parents[2] / "pwa" / "locale"
# Languages with a catalogue (English is the msgids themselves) and the folder it lives in.
_PO_FOLDERS = {"zh-CN": "zh_CN"}


def key(context: str | None, msgid: str) -> str:
    """How a message is keyed: ``context + "\\x04" + msgid`` when it has a context
    (``msgctxt``, ``pgettext``), as gettext keys it, so one English word can mean two things."""
    return f"{context}\x04{msgid}" if context else msgid


def _po_catalogs(lang: str) -> Iterator[Catalog]:
    folder = _PO_FOLDERS.get(lang)
    if folder is None:
        return
    for po in sorted((LOCALE_DIR / folder / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            yield read_po(fh, locale=folder)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid → translation for one language, merged from every .po file (empty for English).
    A message with a context is keyed ``context + "\\x04" + msgid`` (see ``key``)."""
    merged: dict[str, str] = {}
    for cat in _po_catalogs(lang):
        for message in cat:
            if not message.id or not message.string or message.fuzzy:
                continue
            if isinstance(message.id, (tuple, list)):  # plural forms: keep both ids
                strings = list(message.string)
                merged[str(message.id[0])] = str(strings[0])
                merged[str(message.id[1])] = str(strings[-1])
            else:
                merged[key(message.context, str(message.id))] = str(message.string)
    return merged


@cache
def translations(lang: str) -> NullTranslations:
    """A gettext object for ``lang`` (``babel.support.Translations`` merged from every .po)."""
    if lang not in _PO_FOLDERS:
        return NullTranslations()
    merged = Translations()
    for cat in _po_catalogs(lang):
        buf = BytesIO()
        write_mo(buf, cat, use_fuzzy=False)
        buf.seek(0)
        merged.merge(Translations(fp=buf))
    return merged


@cache
def catalogue_json(lang: str) -> bytes:
    return json.dumps(catalogue(lang), ensure_ascii=False, sort_keys=True).encode()


def catalogue_hash(lang: str) -> str:
    return hashlib.sha256(catalogue_json(lang)).hexdigest()[:12]


def reload() -> None:
    """Forget the loaded catalogues (tests that write a .po file call this)."""
    catalogue.cache_clear()
    translations.cache_clear()
    catalogue_json.cache_clear()


def translate(lang: str, message: str, **values: Any) -> str:
    text = translations(lang).gettext(message)
    return text % values if values else text


def gettext(message: str, **values: Any) -> str:
    """Untranslated fallback (English) for code outside a request."""
    return message % values if values else message


# How a list of option codes inside a message is joined.
_LIST_SEPARATORS = {"zh-CN": "、", "en": ", "}


def localize(lang: str, message: str) -> str:
    """A sync message (``sync.wire.Message``) in ``lang``, as a plain ``str``. Plain text (an
    older mutation-log row, a page's own message) is looked up as a msgid."""
    if isinstance(message, Message):
        if lang == "en":
            return str(message)
        return message.render(translations(lang).gettext, _LIST_SEPARATORS.get(lang, ", "))
    return translations(lang).gettext(str(message))


def localize_errors(lang: str, errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """A rejected write's ``errors`` (field → messages) in ``lang``; field names stay."""
    return {name: [localize(lang, m) for m in messages] for name, messages in errors.items()}
