"""Languages: Simplified Chinese (``zh-CN``, the default) and English (``en``).

Source strings are English gettext msgids. Chinese translations live in
``pwa/locale/zh_CN/LC_MESSAGES/*.po``; every ``.po`` file in that folder is read and merged at start
(``app.po`` for the phone app, ``auth.po`` for sign-in, ``admin.po`` for the staff pages), so there is
no ``.mo`` build step.

Rendering a localized page (for every feature)::

    from server.i18n import render

    @get("/account", opt=roles(...))
    async def account(request: Request) -> Template:
        return render(request, "auth/account.html", {"devices": devices})

``render(request, template, context=None, **response_kwargs)`` picks the language (cookie ``lang``,
else ``Accept-Language``, else zh-CN) and returns a Litestar ``Template`` whose context carries
``lang``. In templates: ``{{ _("Save") }}``, ``{{ _("%(n)s waiting", n=3) }}``,
``{{ ngettext("%(num)d record", "%(num)d records", n) }}``, ``{{ when | format_date }}``,
``{{ when | format_datetime }}``, ``{{ 1234.5 | format_number }}``: all read ``lang`` from the
template context, so a template rendered without ``render`` falls back to zh-CN.
In Python (a flash message, an error shown on a page): ``translate(language_of(request), "…")``.

JS gets the same catalogue as JSON from ``/i18n/{lang}.json`` (see ``pwa/static/js/i18n.js``).

Messages from the sync engine (a rejected mutation's ``errors``: field → messages) are
``sync.wire.Message`` objects: English text that keeps its gettext template and parameters.
``localize(lang, message)`` / ``localize_errors(lang, errors)`` render them at the edge: the push
API in the request's language (``language_of``: the ``lang`` cookie the language switch sets, else
the ``Accept-Language`` the phone's browser sends with every fetch, else zh-CN — the same choice
that rendered the phone's pages, so its "needs attention" screen matches the rest of the app),
and the staff pages likewise. Their Chinese lives in ``sync.po``; ``check`` also requires a
translation of every template the sync code declares (``sync.wire.TEMPLATES``).

Adding translations: write the English msgid in the template or JS (``t("…")``), add a
``msgid``/``msgstr`` pair to your feature's ``.po`` file and restart the server. Run
``python -m server.i18n check`` to list msgids used in templates and JS, and sync message
templates, that have no Chinese translation, and translations of sync templates whose
placeholders their messages do not carry (it exits 1 if there is any).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from litestar import Request, Response, get
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect, Template

from sync.wire import TEMPLATES, Message

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "lang"
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "pwa" / "locale"
_BABEL_LOCALES = {"zh-CN": Locale.parse("zh_Hans_CN"), "en": Locale.parse("en")}
_PO_FOLDERS = {"zh-CN": "zh_CN"}


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid → translation for one language, merged from every .po file (empty for English).
    A message with a context (``msgctxt``, ``pgettext``) is keyed ``context + "\x04" + msgid``,
    as gettext keys it, so the same English word can mean two things."""
    folder = _PO_FOLDERS.get(lang)
    if folder is None:
        return {}
    merged: dict[str, str] = {}
    for po in sorted((LOCALE_DIR / folder / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=folder)
        for message in cat:
            if not message.id or not message.string or message.fuzzy:
                continue
            if isinstance(message.id, (tuple, list)):  # plural forms: keep both ids
                strings = list(message.string)
                merged[str(message.id[0])] = str(strings[0])
                merged[str(message.id[1])] = str(strings[-1])
            else:
                merged[_key(message.context, str(message.id))] = str(message.string)
    return merged


def _key(context: str | None, msgid: str) -> str:
    return f"{context}\x04{msgid}" if context else msgid


@cache
def translations(lang: str) -> NullTranslations:
    """A gettext object for ``lang`` (``babel.support.Translations`` merged from every .po)."""
    folder = _PO_FOLDERS.get(lang)
    if folder is None:
        return NullTranslations()
    merged = Translations()
    for po in sorted((LOCALE_DIR / folder / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=folder)
        part = _from_catalog(cat)
        merged.merge(part)
    return merged


def _from_catalog(cat: Any) -> Translations:
    from io import BytesIO

    from babel.messages.mofile import write_mo

    buf = BytesIO()
    write_mo(buf, cat, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf)


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


def normalize(code: str | None) -> str | None:
    """Map a browser or cookie language tag to one of ``LANGUAGES`` (or None)."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-CN"
    if code.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str) -> str | None:
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        lang = normalize(tag)
        if lang and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def language_of(request: Request[Any, Any, Any]) -> str:
    """The request's language: cookie ``lang``, else Accept-Language, else zh-CN."""
    return (
        normalize(request.cookies.get(LANG_COOKIE))
        or from_accept_language(request.headers.get("accept-language", ""))
        or DEFAULT_LANGUAGE
    )


def translate(lang: str, message: str, **values: Any) -> str:
    text = translations(lang).gettext(message)
    return text % values if values else text


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


def render(
    request: Request[Any, Any, Any],
    template_name: str,
    context: dict[str, Any] | None = None,
    **response_kwargs: Any,
) -> Template:
    """A ``Template`` response in the request's language (``lang`` is added to the context)."""
    lang = language_of(request)
    ctx = {**(context or {}), "lang": lang}
    headers = {"content-language": lang, "vary": "Cookie, Accept-Language"}
    headers.update(response_kwargs.pop("headers", None) or {})
    return Template(template_name, context=ctx, headers=headers, **response_kwargs)


def _lang(ctx: Context) -> str:
    return normalize(ctx.get("lang")) or DEFAULT_LANGUAGE


@pass_context
def _gettext(ctx: Context, message: str, **values: Any) -> str:
    return translate(_lang(ctx), message, **values)


@pass_context
def _pgettext(ctx: Context, context: str, message: str, **values: Any) -> str:
    """A word whose meaning needs a context: ``pgettext("invite", "Code")``."""
    text = str(translations(_lang(ctx)).pgettext(context, message))
    return text % values if values else text


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int, **values: Any) -> str:
    text = translations(_lang(ctx)).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return date.fromisoformat(value[:10])
    return None


@pass_context
def _format_date(ctx: Context, value: Any, format: str = "medium") -> str:
    d = _as_date(value)
    if d is None:
        return ""
    if isinstance(d, datetime):
        d = d.date()
    return str(babel_format_date(d, format=format, locale=_BABEL_LOCALES[_lang(ctx)]))


@pass_context
def _format_datetime(ctx: Context, value: Any, format: str = "medium") -> str:
    d = _as_date(value)
    if d is None:
        return ""
    if not isinstance(d, datetime):
        d = datetime(d.year, d.month, d.day)
    return str(babel_format_datetime(d, format=format, locale=_BABEL_LOCALES[_lang(ctx)]))


@pass_context
def _format_number(ctx: Context, value: Any, format: str | None = None) -> str:
    if value is None or value == "":
        return ""
    return str(format_decimal(value, format=format, locale=_BABEL_LOCALES[_lang(ctx)]))


def gettext(message: str, **values: Any) -> str:
    """Untranslated fallback (English) for code outside a request."""
    return message % values if values else message


def install(environment: Any) -> None:
    """Make ``_``, ``ngettext``, the date/number filters and the language list available to
    every Jinja template; the language comes from ``lang`` in the template context."""
    environment.globals["_"] = _gettext
    environment.globals["ngettext"] = _ngettext
    environment.globals["pgettext"] = _pgettext
    environment.globals["LANGUAGES"] = LANGUAGES
    environment.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    environment.filters["format_date"] = _format_date
    environment.filters["format_datetime"] = _format_datetime
    environment.filters["format_number"] = _format_number
    # Load the catalogues at start, not on the first request.
    for lang in LANGUAGES:
        translations(lang)
        catalogue(lang)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect to another origin.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@get("/lang/{code:str}", opt={"public": True}, include_in_schema=False)
async def switch_language(code: FromPath[str], next: str | None = None) -> Response[Any]:
    """Remember the chosen language in the ``lang`` cookie and go back to ``next``."""
    lang = normalize(code) or DEFAULT_LANGUAGE
    return Redirect(
        _safe_next(next),
        status_code=303,
        cookies=[
            Cookie(key=LANG_COOKIE, value=lang, max_age=365 * 24 * 3600, samesite="lax", path="/")
        ],
    )


@get("/i18n/{name:str}", opt={"public": True, "cacheable": True}, include_in_schema=False)
async def catalogue_for_js(name: FromPath[str]) -> Response[bytes]:
    """The merged catalogue as ``{msgid: translation}`` JSON for strings built in JS."""
    lang = normalize(name.removesuffix(".json")) or DEFAULT_LANGUAGE
    return Response(
        catalogue_json(lang),
        media_type="application/json; charset=utf-8",
        headers={"cache-control": "public, max-age=3600"},
    )


ROUTES = [switch_language, catalogue_for_js]

_MSGID_PATTERNS = (
    re.compile(r"""\b_\(\s*"((?:[^"\\]|\\.)*)"""),
    re.compile(r"""\b_\(\s*'((?:[^'\\]|\\.)*)'"""),
    re.compile(r"""\bt\(\s*"((?:[^"\\]|\\.)*)"""),
)
# pgettext("context", "msgid") in a template, pt("context", "msgid") in JS.
_CONTEXT_PATTERN = re.compile(
    r"""\b(?:pgettext|pt)\(\s*["']([^"']+)["']\s*,\s*"((?:[^"\\]|\\.)*)"""
)


def used_msgids(root: Path | None = None) -> set[str]:
    """Every msgid written as ``_("…")`` in a template or ``t("…")`` in the app's JS."""
    base = root or LOCALE_DIR.parent
    found: set[str] = set()
    files = [*base.glob("templates/**/*.html"), *base.glob("static/js/**/*.js")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in _MSGID_PATTERNS:
            found.update(
                m.encode().decode("unicode_escape") if "\\" in m else m
                for m in pattern.findall(text)
            )
        found.update(_key(context, msgid) for context, msgid in _CONTEXT_PATTERN.findall(text))
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


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"]:
        missing = sorted((used_msgids() | set(sync_templates())) - set(catalogue("zh-CN")))
        for msgid in missing:
            print(msgid)
        problems = placeholder_problems()
        for line in problems:
            print("placeholders differ:", line)
        return 1 if missing or problems else 0
    print("usage: python -m server.i18n check")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
