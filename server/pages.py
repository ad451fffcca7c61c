"""The phone app: screen shells, web manifest, service worker, language switch and JS catalogue.

Screens (one cached shell each; the data comes from IndexedDB, so a shell holds no personal data
and one shell serves every record):

- ``/`` Today: follow-ups due and overdue, urgent referrals, "log contact"
- ``/participants`` My participants; ``/participants/view?id=<uuid>`` one participant
- ``/contacts/new?participant=<uuid>`` Log contact; ``/meetings/new`` Group meeting
- ``/readings/new?participant=<uuid>`` a reading; ``/assessments/new?participant=<uuid>`` a
  questionnaire (the distress questions); ``/activities/new`` a WeChat group session or
  neighbourhood activity
- ``/roster`` the volunteer's committee roster; ``/settings``; ``/attention`` records needing attention
- a coordinator's log of their peer leaders (SPEC 2), offline like the rest: ``/supervision/new``
  a supervision, ``/training/new`` a training session, ``/ratings`` the quarter's implementation
  ratings, one peer leader at a time
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Response, get
from litestar.response import Template

from server import assets, i18n
from server.admin import supervision
from server.auth.session import public
from server.deps import AppSettings, Req
from sync.entities.implementation_rating import RATED

SCREENS: dict[str, tuple[str, str]] = {
    # path: (template and JS module name, title msgid)
    "/": ("today", "Today"),
    "/participants": ("participants", "My participants"),
    "/participants/view": ("participant", "Participant"),
    "/contacts/new": ("contact", "Log contact"),
    "/meetings/new": ("meeting", "Group meeting"),
    "/readings/new": ("reading", "Record a reading"),
    "/assessments/new": ("assessment", "Questionnaire"),
    "/activities/new": ("activity", "Group activity"),
    "/roster": ("roster", "Roster"),
    "/settings": ("settings", "Settings"),
    "/attention": ("attention", "Needs attention"),
    "/supervision/new": ("supervision", "Supervision"),
    "/training/new": ("training", "Training"),
    "/ratings": ("rating", "Quarterly ratings"),
}
# What a screen's form offers beyond the shell: the same choices as the staff pages' forms
# (a supervision's modes and suggested topics, the rated items), never a second list.
SCREEN_CHOICES: dict[str, dict[str, Any]] = {
    "supervision": {"modes": supervision.MODES, "topics": supervision.TOPICS},
    "rating": {"items": RATED},
}
SHELL_OPT = {**public(), "cacheable": True}
THEME = "#0b6e4f"


def _i18n_url(lang: str) -> str:
    return f"/i18n/{lang}.json?v={i18n.catalogue_hash(lang)}"


def _shell(path: str) -> Any:
    name, title = SCREENS[path]

    async def handler(request: Req, settings: AppSettings, lang: str | None = None) -> Template:
        # ``?lang=`` names the language outright: the service worker caches every shell in
        # every language, so that switching language works offline.
        chosen = i18n.normalize(lang) if lang else None
        language = chosen or i18n.language_of(request)
        context = {
            "screen": name,
            "title": title,
            "i18n_url": _i18n_url(language),
            "overdue_days": settings.overdue_days,
            **SCREEN_CHOICES.get(name, {}),
        }
        page = i18n.render(
            request, f"app/{name}.html", context, headers={"cache-control": "no-cache"}
        )
        if chosen:
            page.context["lang"] = chosen
            page.headers["content-language"] = chosen
        return page

    handler.__name__ = f"shell_{name}"
    return get(path, opt=SHELL_OPT, include_in_schema=False, name=f"app:{name}")(handler)


@get("/offline", opt=SHELL_OPT, include_in_schema=False, name="app:offline")
async def offline_page(request: Req, lang: str | None = None) -> Template:
    """The page the service worker shows when a page that needs the network is opened offline
    (cached in every language, like the screens), with a way back to Today."""
    chosen = i18n.normalize(lang) if lang else None
    page = i18n.render(request, "app/offline.html", headers={"cache-control": "no-cache"})
    if chosen:
        page.context["lang"] = chosen
        page.headers["content-language"] = chosen
    return page


def precache_assets() -> list[str]:
    """What the service worker stores at install: the app's CSS, JS, icons (hashed URLs)."""
    keep = ("css/app.css", "js/", "icons/")
    skip = ("js/admin/", "js/account.js")
    return [
        assets.static_url(path)
        for path in sorted(assets.assets())
        if path.startswith(keep) and not path.startswith(skip)
    ]


def service_worker_source() -> tuple[bytes, str]:
    urls = [*precache_assets(), _i18n_url("zh-CN"), _i18n_url("en"), "/manifest.webmanifest"]
    templates = sorted((assets.STATIC_DIR.parent / "templates").glob("app/*.html"))
    extra = [(assets.STATIC_DIR.parent / "templates" / "base.html").read_bytes()]
    extra += [t.read_bytes() for t in templates]
    import hashlib

    h = hashlib.sha256()
    for part in [*urls, *(e.decode() for e in extra), assets.assets()["sw/sw.js"].digest]:
        h.update(part.encode())
    version = h.hexdigest()[:12]
    header = (
        f"import {{ syncNow }} from {json.dumps(assets.static_url('js/sync.js'))};\n"
        f"import {{ onlyExisting }} from {json.dumps(assets.static_url('js/db.js'))};\n"
        f"import {{ SYNC }} from {json.dumps(assets.static_url('js/outbox.js'))};\n"
        "onlyExisting();\n"
        f"const VERSION = {json.dumps(version)};\n"
        f'const CACHE = "peerlog-" + VERSION;\n'
        f"const PRECACHE = {json.dumps(urls)};\n"
        f"const SHELLS = {json.dumps(list(SCREENS))};\n"
        f"const LANGUAGES = {json.dumps(list(i18n.LANGUAGES))};\n"
    )
    return header.encode() + assets.assets()["sw/sw.js"].body, version


@get("/sw.js", opt=SHELL_OPT, include_in_schema=False, sync_to_thread=False)
def service_worker() -> Response[bytes]:
    """The service worker, from the root so its scope is the whole app; never cached by HTTP."""
    body, version = service_worker_source()
    return Response(
        body,
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": "no-cache", "service-worker-allowed": "/", "etag": version},
    )


@get("/manifest.webmanifest", opt=SHELL_OPT, include_in_schema=False)
async def manifest(request: Req) -> Response[bytes]:
    lang = i18n.language_of(request)
    tr = i18n.translations(lang).gettext
    body = {
        "name": tr("Peerlog — peer support log"),
        "short_name": "Peerlog",
        "description": tr("Log contacts with participants, online or offline."),
        "lang": lang,
        "start_url": "/",
        "scope": "/",
        "id": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            {
                "src": assets.static_url("icons/icon-192.png"),
                "sizes": "192x192",
                "type": "image/png",
            },
            {
                "src": assets.static_url("icons/icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
            },
            {
                "src": assets.static_url("icons/maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        media_type="application/manifest+json",
        headers={"cache-control": "no-cache", "vary": "Cookie, Accept-Language"},
    )


ROUTES: list[Any] = [
    *i18n.ROUTES,
    service_worker,
    manifest,
    offline_page,
    *(_shell(path) for path in SCREENS),
]
