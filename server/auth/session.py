"""Server-side sessions, the request's signed-in user, and deny-by-default access guards.

Every route states who may use it through its ``opt``: ``opt=public()`` or ``opt=roles(...)``,
on itself or on its controller or router. A route that states neither is refused to everyone
(``access_guard``), so forgetting is safe; where layers state both, the innermost wins (a
``roles()`` handler on a ``public()`` router is for those roles only).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from server.settings import Settings
from sync.models import Device, Role, Session, User

SESSION_COOKIE = "peerlog_session"
DEVICE_HEADER = "x-peerlog-device"
ALL_ROLES = tuple(Role)
STAFF = (Role.COORDINATOR, Role.ADMIN)


def public() -> dict[str, Any]:
    """Route ``opt`` for routes anyone may use (sign-in, invites, the app shell, health).

    Both keys are set, here and in ``roles``: Litestar merges ``opt`` from the app down to the
    handler, each layer's keys replacing the outer ones', so the innermost statement is the
    whole answer."""
    return {"public": True, "roles": ()}


def roles(*allowed: Role) -> dict[str, Any]:
    """Route ``opt`` for routes only signed-in users with one of these roles may use."""
    return {"public": False, "roles": tuple(allowed) or ALL_ROLES}


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


def session_limits(role: Role | str, settings: Settings) -> tuple[timedelta, timedelta]:
    """(idle, absolute) for a role. Staff see a whole community or more, from shared desktops
    as often as phones, so their sessions end sooner than a peer leader's, whose phone may
    stay offline for days between syncs."""
    if Role(role) in STAFF:
        return (
            timedelta(minutes=settings.staff_session_idle_minutes),
            timedelta(minutes=settings.staff_session_absolute_minutes),
        )
    return (
        timedelta(minutes=settings.session_idle_minutes),
        timedelta(minutes=settings.session_absolute_minutes),
    )


async def create_session(user: User, settings: Settings, device_id: uuid.UUID | None = None) -> str:
    """Start a session and return the cookie token (a fresh id every sign-in)."""
    token = secrets.token_urlsafe(32)
    at = now()
    await Session.create(
        id=_hash(token),
        user=user,
        device_id=device_id,
        last_seen_at=at,
        expires_at=at + session_limits(user.role, settings)[1],
    )
    return token


async def end_session(token: str) -> None:
    await Session.filter(id=_hash(token)).delete()


async def end_sessions(*, user: User | None = None, device_id: uuid.UUID | None = None) -> int:
    """End every session of a user or of a device at once (deactivation, revocation)."""
    query = Session.all()
    if user is not None:
        query = query.filter(user_id=user.id)
    if device_id is not None:
        query = query.filter(device_id=device_id)
    if user is None and device_id is None:
        raise ValueError("end_sessions needs a user or a device")
    return await query.delete()


def session_cookie(token: str, settings: Settings, role: Role | str) -> Cookie:
    """The session cookie: HttpOnly, SameSite=Lax, Secure except on plain-HTTP localhost."""
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=int(session_limits(role, settings)[1].total_seconds()),
    )


def expired_session_cookie(settings: Settings) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=0,
        expires=0,
    )


def session_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return connection.cookies.get(SESSION_COOKIE) or None


async def load_session(token: str, settings: Settings) -> Session | None:
    """The live session for a cookie token, or None when unknown, expired, idle or deactivated."""
    session = await Session.get_or_none(id=_hash(token)).select_related("user", "device")
    if session is None:
        return None
    at = now()
    # By the user's role now: one made coordinator keeps a peer leader's session no longer
    # than a coordinator's.
    idle, absolute = session_limits(session.user.role, settings)
    ends = min(session.expires_at, session.created_at + absolute)
    if at >= ends or at >= session.last_seen_at + idle or not session.user.is_active:
        await session.delete()
        return None
    if session.device is not None and session.device.revoked_at is not None:
        # Revoking deletes the device's sessions; this catches one created in the same instant.
        await session.delete()
        raise DeviceRevoked
    # Touch at most once a minute: a page load must not become a write on every request.
    if at - session.last_seen_at > timedelta(minutes=1):
        session.last_seen_at = at
        await Session.filter(id=session.id).update(last_seen_at=at)
    return session


def get_auth(connection: ASGIConnection[Any, Any, Any, Any]) -> Auth:
    """The session middleware's finding (``request.auth``); an empty one where it did not run."""
    auth = connection.scope.get("auth")
    return auth if isinstance(auth, Auth) else Auth()


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User:
    user = get_auth(connection).user
    if user is None:
        raise NotAuthorizedException("Sign in first.")
    return user


class DeviceRevoked(PermissionDeniedException):
    """The request comes from a device an administrator revoked (or one bound to another user):
    a JSON 403 ``device_revoked`` whatever was asked, so the app knows to wipe its local data."""

    def __init__(self) -> None:
        super().__init__(
            detail="This device has been signed out by an administrator. Its local data must be wiped.",
            extra={"error": "device_revoked"},
        )


class SignInRequired(NotAuthorizedException):
    """An anonymous request to a page: answered with a redirect to ``/signin?next=…``."""


class SessionMiddleware(AbstractAuthenticationMiddleware):
    """Find the session and device of every HTTP request: ``request.user`` (the signed-in
    ``User`` or None; the access guard decides who may pass) and ``request.auth`` (``Auth``).

    A phone names itself in the ``X-Peerlog-Device`` header. A revoked device gets 403 with
    ``device_revoked`` whatever it asks (``DeviceRevoked``).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        super().__init__(app, exclude_http_methods=(), scopes={ScopeType.HTTP})
        self.settings = settings

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        auth = Auth()
        known: Device | None = None  # the session's own device, already read with it
        token = session_token(connection)
        if token:
            session = await load_session(token, self.settings)
            if session is not None:
                auth.session, auth.user = session, session.user
                auth.device_id = session.device_id  # type: ignore[attr-defined]
                known = session.device
        raw_device = connection.headers.get(DEVICE_HEADER)
        if raw_device:
            try:
                device_id = uuid.UUID(raw_device)
            except ValueError:
                device_id = None
            if device_id is not None:
                auth.device_id = device_id
                # The phone names the device its session is bound to (the usual case on every
                # push and pull): that row came with the session, so no second read.
                device = (
                    known
                    if known is not None and known.id == device_id
                    else await Device.get_or_none(id=device_id)
                )
                if device is not None and (
                    device.revoked_at is not None
                    or (auth.user is not None and device.user_id != auth.user.id)  # type: ignore[attr-defined]
                ):
                    raise DeviceRevoked
                if device is not None and auth.user is not None:
                    await _touch_device(device)
        return AuthenticationResult(user=auth.user, auth=auth)


async def _touch_device(device: Device) -> None:
    # "Last seen" on the devices page; at most one write a minute per phone.
    at = now()
    if device.last_seen_at is None or at - device.last_seen_at > timedelta(minutes=1):
        await Device.filter(id=device.id).update(last_seen_at=at)


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
        if is_page(connection):
            raise SignInRequired("Sign in first.")
        raise NotAuthorizedException("Sign in first.")
    if user.role not in allowed:
        raise PermissionDeniedException("Your role may not use this.")


def is_page(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """A page a person opens (redirect them to sign in), as opposed to the JSON API (401)."""
    path = connection.scope.get("path", "")
    return not (path.startswith("/api/") or path == "/api")


def signin_redirect(request: Any, exc: SignInRequired) -> Any:
    """Exception handler: send a person who is not signed in to ``/signin?next=<this page>``."""
    from urllib.parse import quote

    from litestar.response import Redirect

    target = "/signin"
    if request.method in ("GET", "HEAD"):
        path = request.scope.get("path", "/")
        query = request.scope.get("query_string", b"").decode("latin-1")
        target += "?next=" + quote(path + (f"?{query}" if query else ""), safe="")
    return Redirect(target, status_code=303, headers={"cache-control": "no-store"})


CSRF_FAILED = "CSRF token verification failed"


def forbidden(request: Any, exc: PermissionDeniedException) -> Any:
    """Exception handler: a person opening a page gets a readable page, the API its JSON 403."""
    from server import errors

    if not is_page(request) or isinstance(exc, DeviceRevoked):
        return errors.http_error(request, exc)
    from server.i18n import render

    reason = "csrf" if exc.detail == CSRF_FAILED else "role"
    return render(
        request,
        "auth/forbidden.html",
        {"reason": reason, "signed_in": get_auth(request).user is not None},
        status_code=403,
    )
