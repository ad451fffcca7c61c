"""The app factory: ``create_app(settings)`` builds the whole Litestar application."""

from __future__ import annotations

import logging
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
from litestar.middleware import ASGIMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from server import assets, errors, i18n, security
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

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"
TEMPLATES_DIR = PWA_DIR / "templates"
STATIC_DIR = PWA_DIR / "static"


class RequestIdMiddleware(ASGIMiddleware):
    """Give every request an id: audit events and error bodies quote it."""

    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope.setdefault("state", {})["request_id"] = uuid.uuid4().hex
        await next_app(scope, receive, send)


def _route_handlers() -> list[Any]:
    # Each feature module owns its routes; importing here keeps the factory the one place
    # that knows them all.
    from server import admin, health, pages, sync_api
    from server.auth import routes as auth_routes

    return [
        assets.router(),
        *health.ROUTES,
        *sync_api.ROUTES,
        *auth_routes.ROUTES,
        *pages.ROUTES,
        *admin.ROUTES,
    ]


def _install_template_globals(engine: JinjaTemplateEngine) -> None:
    i18n.install(engine.engine)
    assets.install(engine.engine)


def create_app(
    settings: Settings,
    *,
    manage_database: bool = True,
    extra_middleware: Sequence[Any] = (),
    on_startup: Sequence[Callable[..., Any]] = (),
) -> Litestar:
    """Build the app. ``manage_database=False`` when the caller (a test) owns the ORM context."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

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
        route_handlers=_route_handlers(),
        lifespan=[lifespan],
        on_startup=list(on_startup),
        guards=[access_guard],
        middleware=[RequestIdMiddleware(), SessionMiddleware(settings), *extra_middleware],
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
        request_max_body_size=max(settings.max_push_bytes * 2, 4 * 1024 * 1024),
        debug=False,
    )


def settings_of(app_state: State) -> Settings:
    settings = app_state.settings
    assert isinstance(settings, Settings)
    return settings
