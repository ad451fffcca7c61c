"""Server-side sessions, the request's signed-in user, and deny-by-default access guards.

Every route states who may use it through its ``opt``: ``opt=public()`` or ``opt=roles(...)``.
A route that states neither is refused to everyone (``access_guard``), so forgetting is safe.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from server.settings import Settings
from sync.models import Device, Role, Session, User

SESSION_COOKIE = "peerlog_session"
DEVICE_HEADER = "x-peerlog-device"
ALL_ROLES = tuple(Role)
STAFF = (Role.COORDINATOR, Role.ADMIN)


def public() -> dict[str, Any]:
    """Route ``opt`` for routes anyone may use (sign-in, invites, the app shell, health)."""
    return {"public": True}


def roles(*allowed: Role) -> dict[str, Any]:
    """Route ``opt`` for routes only signed-in users with one of these roles may use."""
    return {"roles": tuple(allowed) or ALL_ROLES}


@dataclass
class Auth:
    """What the session middleware found for this request."""

    user: User | None = None
    session: Session | None = None
    device_id: uuid.UUID | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


async def create_session(user: User, settings: Settings, device_id: uuid.UUID | None = None) -> str:
    """Start a session and return the cookie token (a fresh id every sign-in)."""
    token = secrets.token_urlsafe(32)
    at = now()
    await Session.create(
        id=_hash(token),
        user=user,
        device_id=device_id,
        last_seen_at=at,
        expires_at=at + timedelta(minutes=settings.session_absolute_minutes),
    )
    return token


async def end_session(token: str) -> None:
    await Session.filter(id=_hash(token)).delete()


async def load_session(token: str, settings: Settings) -> Session | None:
    """The live session for a cookie token, or None when unknown, expired, idle or deactivated."""
    session = await Session.get_or_none(id=_hash(token)).select_related("user")
    if session is None:
        return None
    at = now()
    idle_limit = session.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if at >= session.expires_at or at >= idle_limit or not session.user.is_active:
        await session.delete()
        return None
    # Touch at most once a minute: a page load must not become a write on every request.
    if at - session.last_seen_at > timedelta(minutes=1):
        session.last_seen_at = at
        await Session.filter(id=session.id).update(last_seen_at=at)
    return session


def get_auth(connection: ASGIConnection[Any, Any, Any, Any]) -> Auth:
    auth = connection.scope.get("state", {}).get("auth")
    return auth if isinstance(auth, Auth) else Auth()


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User:
    user = get_auth(connection).user
    if user is None:
        raise NotAuthorizedException("Sign in first.")
    return user


class SessionMiddleware(ASGIMiddleware):
    """Attach ``Auth`` to every HTTP request; refuse requests from a revoked device.

    A phone names itself in the ``X-Peerlog-Device`` header. A revoked device gets 403 with
    ``device_revoked`` whatever it asks, so the app knows to wipe its local data.
    """

    scopes = ("http",)  # type: ignore[assignment]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        auth = Auth()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        token = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        if token:
            session = await load_session(token, self.settings)
            if session is not None:
                auth.session, auth.user = session, session.user
                auth.device_id = session.device_id  # type: ignore[attr-defined]
        raw_device = headers.get(DEVICE_HEADER)
        if raw_device:
            try:
                device_id = uuid.UUID(raw_device)
            except ValueError:
                device_id = None
            if device_id is not None:
                auth.device_id = device_id
                device = await Device.get_or_none(id=device_id)
                if device is not None and (
                    device.revoked_at is not None
                    or (auth.user is not None and device.user_id != auth.user.id)  # type: ignore[attr-defined]
                ):
                    await _send_json(
                        send,
                        403,
                        {
                            "error": "device_revoked",
                            "message": "This device has been signed out by an administrator. Its local data must be wiped.",
                        },
                    )
                    return
        scope.setdefault("state", {})["auth"] = auth
        await next_app(scope, receive, send)


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Deny by default: a route must say it is public or which roles may use it."""
    opt = handler.opt
    if opt.get("public"):
        return
    allowed = opt.get("roles")
    if not allowed:
        raise PermissionDeniedException("This route states no roles, so nobody may use it.")
    user = get_auth(connection).user
    if user is None:
        raise NotAuthorizedException("Sign in first.")
    if user.role not in allowed:
        raise PermissionDeniedException("Your role may not use this.")


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    import json

    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})  # type: ignore[arg-type]
