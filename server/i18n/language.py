"""Which language a request is answered in: the ``lang`` cookie the language switch sets, else
the browser's ``Accept-Language``, else Simplified Chinese."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "lang"
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}


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
