"""Languages: Simplified Chinese and English (gettext catalogues via Babel; owned by the PWA issue).

Templates call ``_("…")``; the active language is chosen per request.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


def gettext(message: str, **values: Any) -> str:
    return message % values if values else message


def install(environment: Any) -> None:
    """Make ``_`` and the language list available to every Jinja template."""
    environment.globals["_"] = gettext
    environment.globals["LANGUAGES"] = LANGUAGES
