"""Localized pages: ``render`` answers with a ``Template`` in the request's language, and
``install`` gives every Jinja template ``_``, ``pgettext``, ``ngettext``, the date and number
filters and the language list, all reading ``lang`` from the template context (zh-CN without)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context
from litestar import Request
from litestar.response import Template

from server.i18n.catalogues import catalogue, translate, translations
from server.i18n.language import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    language_of,
    normalize,
)

_BABEL_LOCALES = {"zh-CN": Locale.parse("zh_Hans_CN"), "en": Locale.parse("en")}


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


def install(environment: Any) -> None:
    """Make ``_``, ``ngettext``, ``pgettext``, the date/number filters and the language list
    available to every Jinja template; the language comes from ``lang`` in the template context."""
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
