"""Security headers on every response, including errors and 404s.

Installed as a ``before_send`` hook (see ``server.app``) rather than a route middleware, because
Litestar answers unknown paths and middleware refusals before any route middleware runs.

Caching: every response is ``Cache-Control: no-store`` (pages and API carry personal data),
unless its route handler opts in with ``opt={"cacheable": True}`` — the public shell pages and
static assets the service worker caches — in which case the handler's own Cache-Control stands.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "manifest-src 'self'",
        "worker-src 'self'",
    ]
)

# Passkeys need publickey-credentials-*; everything a peer-support log never uses is off.
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "publickey-credentials-create=(self), publickey-credentials-get=(self)"
)

HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "permissions-policy": PERMISSIONS_POLICY,
    "cross-origin-opener-policy": "same-origin",
}


def is_cacheable(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    opt = getattr(handler, "opt", None) or {}
    return bool(opt.get("cacheable"))


async def security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: add the headers to the start of every HTTP response."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in HEADERS.items():
        headers[name] = value
    if not is_cacheable(scope):
        headers["cache-control"] = "no-store"
    if _https(scope):
        # Once on HTTPS, always: the phone never again tries plain HTTP, where it could be stripped.
        headers["strict-transport-security"] = "max-age=31536000"


def _https(scope: Scope) -> bool:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    return str(getattr(settings, "origin", "")).startswith("https://")
