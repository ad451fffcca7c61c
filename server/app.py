"""The app factory: ``create_app(settings)`` builds the whole Litestar application."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.middleware import ASGIMiddleware, DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send

from server import assets, deps, errors, forms, i18n, logs, security
from server.auth.session import (
    SessionMiddleware,
    SignInRequired,
    access_guard,
    forbidden,
    public,
    signin_redirect,
)
from server.settings import Settings
from sync import db
from sync import engine as sync_engine

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"
TEMPLATES_DIR = PWA_DIR / "templates"
STATIC_DIR = PWA_DIR / "static"


class RequestIdMiddleware(ASGIMiddleware):
    """Give every request an id: audit events and error bodies quote it."""

    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope.setdefault("state", {})["request_id"] = uuid.uuid4().hex
        await next_app(scope, receive, send)


# A body this far over its limit is not read to its end before the 413 (a client sending
# gigabytes gets the answer and a closed connection instead).
_DRAIN_CAP = 64 * 1024 * 1024


def body_limit(settings: Settings) -> int:
    """The largest request body any route takes (a push is checked against its own, smaller
    limit): CSV imports and passkey credentials fit well within it."""
    return max(settings.max_push_bytes * 2, 4 * 1024 * 1024)


class BodyLimitMiddleware(ASGIMiddleware):
    """Answer a declared over-long body with a 413 that names the limit, after reading it.

    The limit is the route's own ``request_max_body_size`` (Litestar's setting, per app, router
    or route: a push's is ``max_push_bytes``); Litestar counts a body sent without a length
    against it as it reads. This middleware only changes *when* the 413 of a declared length is
    sent: Litestar answers without reading, which left the client writing into a connection
    nobody read (uvicorn stops reading, a client that reads only after sending hangs, and one
    that sends on gets a TCP reset instead of the answer). Reading (and dropping) the body
    first lets every client see the 413."""

    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        limit, message = errors.body_limit_of(scope["route_handler"])
        if limit is None or not declared.isdigit() or int(declared) <= limit:
            await next_app(scope, receive, send)
            return
        read, more = 0, True
        while more and read <= _DRAIN_CAP:
            event = await receive()
            if event["type"] != "http.request":
                return  # the client went away
            read += len(event.get("body", b""))
            more = event.get("more_body", False)
        body = json.dumps(
            {
                "error": "too_large",
                "message": message,
                "limit": limit,
                "request_id": scope.get("state", {}).get("request_id", ""),
            }
        ).encode()
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _route_handlers(settings: Settings) -> list[Any]:
    # Each feature module owns its routes; importing here keeps the factory the one place
    # that knows them all.
    from server import admin, health, pages, sync_api
    from server.auth import routes as auth_routes

    return [
        assets.router(),
        assets.serve_favicon,
        *health.ROUTES,
        sync_api.router(settings),
        *auth_routes.ROUTERS,
        *pages.ROUTES,
        admin.ROUTER,
    ]


def _install_template_globals(engine: JinjaTemplateEngine) -> None:
    i18n.install(engine.engine)
    assets.install(engine.engine)
    forms.install(engine.engine)


def create_app(
    settings: Settings,
    *,
    manage_database: bool = True,
    extra_middleware: Sequence[Any] = (),
    on_startup: Sequence[Callable[..., Any]] = (),
) -> Litestar:
    """Build the app. ``manage_database=False`` when the caller (a test) owns the ORM context."""
    logs.configure(settings.log_level)
    sync_engine.configure(timezone=settings.timezone)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if manage_database:
            await db.init(settings.database_url)
        try:
            yield
        finally:
            if manage_database:
                await db.close()

    template_config = TemplateConfig(
        directory=TEMPLATES_DIR,
        engine=JinjaTemplateEngine,
        engine_callback=_install_template_globals,
    )
    csrf = CSRFConfig(
        secret=settings.secret(),
        cookie_secure=settings.secure_cookies,
        cookie_samesite="lax",
    )
    return Litestar(
        route_handlers=_route_handlers(settings),
        lifespan=[lifespan],
        on_startup=list(on_startup),
        guards=[access_guard],
        middleware=[
            RequestIdMiddleware(),
            BodyLimitMiddleware(),
            DefineMiddleware(SessionMiddleware, settings=settings),
            *extra_middleware,
        ],
        csrf_config=csrf,
        # Pages and pull pages travel gzipped; static files carry their own precompressed copies.
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=1024, gzip_compress_level=6, exclude="^/static/"
        ),
        template_config=template_config,
        exception_handlers={
            SignInRequired: signin_redirect,
            PermissionDeniedException: forbidden,
            HTTPException: errors.http_error,
            UnicodeDecodeError: errors.undecodable_body,
            RecursionError: errors.undecodable_body,
            Exception: errors.server_error,
        },
        before_request=errors.refuse_control_characters,
        before_send=[security.security_headers],
        # The machine-readable contract only (the HTML viewers load scripts from other hosts,
        # which the CSP refuses); it describes routes, never data, so anyone may read it.
        openapi_config=OpenAPIConfig(
            title="Peerlog",
            version="1",
            path="/api/schema",
            render_plugins=[JsonRenderPlugin()],
            openapi_router=Router("/api/schema", route_handlers=[], opt=public()),
        ),
        state=State({"settings": settings}),
        # What handlers ask for by name: ``settings: Settings`` and ``user: User`` (the
        # signed-in user, on routes the access guard let through).
        dependencies=deps.DEPENDENCIES,
        request_max_body_size=body_limit(settings),
        debug=False,
    )
