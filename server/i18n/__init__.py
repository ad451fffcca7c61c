"""Languages: Simplified Chinese (``zh-CN``, the default) and English (``en``).

Source strings are English gettext msgids. Chinese translations live in
``pwa/locale/zh_CN/LC_MESSAGES/*.po``; every ``.po`` file in that folder is read and merged at start
(``app.po`` for the phone app, ``auth.po`` for sign-in, ``admin.po`` for the staff pages), so there is
no ``.mo`` build step. The package, one job per module:

- ``catalogues``: loading and merging the ``.po`` files (a ``msgctxt`` is keyed
  ``context + "\\x04" + msgid``), ``translate`` and ``localize`` for Python code;
- ``language``: which language a request gets (``language_of``);
- ``jinja``: ``render`` and the template globals (``install``);
- ``routes``: the language switch and the catalogue as JSON for JS;
- ``check``: ``python -m server.i18n check``.

Rendering a localized page (for every feature)::

    from server.i18n import render

    @get("/account", opt=roles(...))
    async def account(request: Request) -> Template:
        return render(request, "auth/account.html", {"devices": devices})

``render(request, template, context=None, **response_kwargs)`` picks the language (cookie ``lang``,
else ``Accept-Language``, else zh-CN) and returns a Litestar ``Template`` whose context carries
``lang``. In templates: ``{{ _("Save") }}``, ``{{ _("%(n)s waiting", n=3) }}``,
``{{ pgettext("invite", "Code") }}``,
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

Adding translations: write the English msgid in the template (``_("…")``, ``pgettext``,
``ngettext``) or JS (``t("…")``, ``pt("context", "…")``), run ``make messages`` (Babel's
extractors, configured in ``babel.cfg``, rewrite ``pwa/locale/messages.pot``), add a
``msgid``/``msgstr`` pair to your feature's ``.po`` file and restart the server. Run
``python -m server.i18n check`` to list msgids used in templates and JS, and sync message
templates, that have no Chinese translation, and translations of sync templates whose
placeholders their messages do not carry (it exits 1 if there is any).
"""

from __future__ import annotations

from server.i18n.catalogues import (
    LOCALE_DIR,
    catalogue,
    catalogue_hash,
    catalogue_json,
    gettext,
    localize,
    localize_errors,
    reload,
    translate,
    translations,
)
from server.i18n.check import main, placeholder_problems, sync_templates, used_msgids
from server.i18n.jinja import install, render
from server.i18n.language import (
    DEFAULT_LANGUAGE,
    LANG_COOKIE,
    LANGUAGE_NAMES,
    LANGUAGES,
    from_accept_language,
    language_of,
    normalize,
)
from server.i18n.routes import ROUTES, catalogue_for_js, switch_language

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LANG_COOKIE",
    "LOCALE_DIR",
    "ROUTES",
    "catalogue",
    "catalogue_for_js",
    "catalogue_hash",
    "catalogue_json",
    "from_accept_language",
    "gettext",
    "install",
    "language_of",
    "localize",
    "localize_errors",
    "main",
    "normalize",
    "placeholder_problems",
    "reload",
    "render",
    "switch_language",
    "sync_templates",
    "translate",
    "translations",
    "used_msgids",
]
