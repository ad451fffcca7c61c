"""The two language routes: the switch that remembers a choice in the ``lang`` cookie, and the
merged catalogue as JSON for the strings the phone's JS builds (``pwa/static/js/i18n.js``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Response, get
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect

from server.i18n.catalogues import catalogue_json
from server.i18n.language import DEFAULT_LANGUAGE, LANG_COOKIE, normalize


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
