"""Sign-in routes: the passkey JSON API under ``/api/auth/`` and the sign-in, invite and account pages.

Handlers stay thin: the ceremonies are in ``passkeys``, cutting devices off in ``devices``.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, delete, get, head, patch, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from server.auth import audit, device_keys, inapp, passkeys, ratelimit
from server.auth.device_keys import DeviceKeyRefused
from server.auth.devices import bind_device, device_label, parse_device_id, revoke_device
from server.auth.invites import INVITE_PROBLEMS, find_invite, normalise_code, use_invite
from server.auth.passkeys import PasskeyRefused, Purpose
from server.auth.session import (
    ALL_ROLES,
    DEVICE_HEADER,
    create_session,
    current_user,
    end_session,
    expired_session_cookie,
    get_auth,
    public,
    roles,
    session_cookie,
    session_token,
)
from server.i18n import render
from server.settings import settings_of
from sync import validate
from sync.models import Credential, Device, DeviceKey, Role, User

Req = Request[Any, Any, Any]


def _json_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise HTTPException(status_code=400, detail="Send a JSON object.")
    return data


async def _limit(request: Req, bucket: str) -> None:
    await ratelimit.hit(
        bucket,
        ratelimit.client_address(request),
        settings_of(request.app.state).rate_limit_per_minute,
    )


def _me(user: User) -> dict[str, Any]:
    return {
        "user": str(user.id),
        "role": user.role.value if hasattr(user.role, "value") else str(user.role),
        "display_name": user.display_name,
        "community_id": str(user.community_id) if user.community_id else None,  # type: ignore[attr-defined]
        "committee_id": str(user.committee_id) if user.committee_id else None,  # type: ignore[attr-defined]
    }


async def _sign_in(
    request: Req,
    user: User,
    credential: Credential | DeviceKey,
    how: str,
    extra: dict[str, Any] | None = None,
) -> Response[Any]:
    """End whatever session this browser had, bind the device, start a fresh session."""
    settings = settings_of(request.app.state)
    device = await bind_device(
        user,
        parse_device_id(request.headers.get(DEVICE_HEADER)),
        request.headers.get("user-agent", ""),
    )
    old = session_token(request)
    if old:
        await end_session(old)
    token = await create_session(user, settings, device.id if device else None)
    await audit.record(
        "signin.success",
        actor=user,
        connection=request,
        device_id=device.id if device else None,
        entity="device_key" if isinstance(credential, DeviceKey) else "credential",
        record_id=str(credential.id),
        how=how,
    )
    return Response(
        {**_me(user), **(extra or {})},
        status_code=HTTP_200_OK,
        cookies=[session_cookie(token, settings, user.role)],
    )


# --- invites ------------------------------------------------------------------------------------


async def _usable_invite(request: Req, code: str) -> Any:
    await _limit(request, "invite")
    invite, problem = await find_invite(code)
    if problem is not None:
        await audit.record("invite.refused", connection=request, reason=problem)
        status = 404 if problem == "unknown" else 410
        raise HTTPException(
            status_code=status,
            detail=INVITE_PROBLEMS[problem],
            extra={"error": f"invite_{problem}"},
        )
    return invite


async def _spend_invite(request: Req, invite: Any, made: Any) -> None:
    """Use the invite up once what it was for is stored (``made``, a query for that passkey or
    device key): another tab or phone that used it first wins, and this one's is taken back."""
    if not await use_invite(invite):
        await made.delete()
        raise HTTPException(
            status_code=410, detail=INVITE_PROBLEMS["used"], extra={"error": "invite_used"}
        )
    await audit.record(
        "invite.used",
        actor=invite.user,
        connection=request,
        entity="invite",
        record_id=str(invite.id),
    )


@post("/api/auth/invites/{code:str}/options", opt=public(), status_code=HTTP_200_OK)
async def invite_options(request: Req, code: FromPath[str]) -> dict[str, Any]:
    invite = await _usable_invite(request, code)
    return await passkeys.registration_options(
        invite.user, settings_of(request.app.state), Purpose.REGISTER, invite=invite
    )


@post("/api/auth/invites/{code:str}/register", opt=public(), status_code=HTTP_200_OK)
async def invite_register(request: Req, code: FromPath[str], data: JSONBody[Any]) -> Response[Any]:
    invite = await _usable_invite(request, code)
    user: User = invite.user
    name = device_label(request.headers.get("user-agent", ""))
    try:
        credential = await passkeys.register(
            user,
            _json_object(data),
            settings_of(request.app.state),
            Purpose.REGISTER,
            name,
            invite=invite,
        )
    except PasskeyRefused as refused:
        await audit.record(
            "signin.failure",
            actor=user,
            connection=request,
            entity="invite",
            record_id=str(invite.id),
            reason=refused.reason,
        )
        raise
    await _spend_invite(request, invite, Credential.filter(id=credential.id))
    await audit.record(
        "passkey.added",
        actor=user,
        connection=request,
        entity="credential",
        record_id=str(credential.id),
    )
    return await _sign_in(request, user, credential, "invite")


# --- device keys (SPEC 5: phones that cannot make a passkey) -------------------------------------


async def _key_refused(
    request: Req, refused: DeviceKeyRefused, user: User | None, entity: str, record_id: str | None
) -> DeviceKeyRefused:
    await audit.record(
        "signin.failure",
        actor=user,
        connection=request,
        entity=entity,
        record_id=record_id,
        reason=refused.reason,
        how="device_key",
    )
    return refused


@post("/api/auth/invites/{code:str}/device-key/options", opt=public(), status_code=HTTP_200_OK)
async def invite_device_key_options(request: Req, code: FromPath[str]) -> dict[str, Any]:
    """A challenge the phone signs with its new key; refused for roles that need a passkey."""
    invite = await _usable_invite(request, code)
    if not device_keys.allowed(invite.user, settings_of(request.app.state)):
        raise await _key_refused(
            request, DeviceKeyRefused("role_not_allowed"), invite.user, "invite", str(invite.id)
        )
    return await device_keys.options(device_keys.REGISTER, user=invite.user, invite=invite)


@post("/api/auth/invites/{code:str}/device-key", opt=public(), status_code=HTTP_200_OK)
async def invite_device_key(
    request: Req, code: FromPath[str], data: JSONBody[Any]
) -> Response[Any]:
    """Body: ``{"public_key": <SPKI, base64url>, "challenge": …, "signature": <r‖s, base64url>}``
    with the phone's ``x-peerlog-device``. Registers the key for that device and signs in."""
    invite = await _usable_invite(request, code)
    user: User = invite.user
    device_id = parse_device_id(request.headers.get(DEVICE_HEADER))
    try:
        public_key = await device_keys.verify_registration(
            user, invite, _json_object(data), device_id, settings_of(request.app.state)
        )
    except DeviceKeyRefused as refused:
        raise await _key_refused(request, refused, user, "invite", str(invite.id)) from None
    device = await bind_device(user, device_id, request.headers.get("user-agent", ""))
    assert device is not None  # verify_registration refused a missing device id
    key = await device_keys.store(user, device, public_key)
    await _spend_invite(request, invite, DeviceKey.filter(id=key.id))
    await audit.record(
        "device_key.added",
        actor=user,
        connection=request,
        device_id=device.id,
        entity="device_key",
        record_id=str(key.id),
    )
    return await _sign_in(request, user, key, "invite", {"device_key": str(key.id)})


@post("/api/auth/device-key/options", opt=public(), status_code=HTTP_200_OK)
async def device_key_login_options(request: Req) -> dict[str, Any]:
    await _limit(request, "signin")
    return await device_keys.options(device_keys.LOGIN)


@post("/api/auth/device-key/login", opt=public(), status_code=HTTP_200_OK)
async def device_key_login(request: Req, data: JSONBody[Any]) -> Response[Any]:
    """Body: ``{"key_id": …, "challenge": …, "signature": <r‖s, base64url>}`` with the phone's
    ``x-peerlog-device``; the key must be that device's."""
    await _limit(request, "signin")
    key, refused = await device_keys.authenticate(
        _json_object(data),
        parse_device_id(request.headers.get(DEVICE_HEADER)),
        settings_of(request.app.state),
    )
    if refused is not None:
        raise await _key_refused(
            request, refused, key.user if key else None, "device_key", str(key.id) if key else None
        )
    assert key is not None
    return await _sign_in(request, key.user, key, "device_key", {"device_key": str(key.id)})


# --- sign-in and out ----------------------------------------------------------------------------


@post("/api/auth/login/options", opt=public(), status_code=HTTP_200_OK)
async def login_options(request: Req) -> dict[str, Any]:
    await _limit(request, "signin")
    return await passkeys.authentication_options(settings_of(request.app.state))


@post("/api/auth/login", opt=public(), status_code=HTTP_200_OK)
async def login(request: Req, data: JSONBody[Any]) -> Response[Any]:
    await _limit(request, "signin")
    credential, refused = await passkeys.authenticate(
        _json_object(data), settings_of(request.app.state)
    )
    if refused is not None:
        await audit.record(
            "signin.failure",
            actor=credential.user if credential else None,
            connection=request,
            entity="credential",
            record_id=str(credential.id) if credential else None,
            reason=refused.reason,
        )
        if refused.reason == "counter_regression":
            await audit.record(
                "passkey.counter_regression",
                actor=credential.user if credential else None,
                connection=request,
                entity="credential",
                record_id=str(credential.id) if credential else None,
            )
        raise refused
    assert credential is not None
    return await _sign_in(request, credential.user, credential, "passkey")


@post("/api/auth/logout", opt=public(), status_code=HTTP_200_OK)
async def logout(request: Req) -> Response[Any]:
    """Ends this browser's session (CSRF-checked like every POST). Signed out already: no-op."""
    token = session_token(request)
    user = get_auth(request).user
    if token:
        await end_session(token)
    if user is not None:
        await audit.record("signout", actor=user, connection=request)
    return Response(
        {"signed_out": True}, cookies=[expired_session_cookie(settings_of(request.app.state))]
    )


@get("/api/auth/me", opt=roles(*ALL_ROLES))
async def me(request: Req) -> dict[str, Any]:
    result = _me(current_user(request))
    auth = get_auth(request)
    result["device_id"] = str(auth.device_id) if auth.device_id else None
    user = current_user(request)
    if user.role is Role.VOLUNTEER and user.community_id:  # type: ignore[attr-defined]
        # SPEC 1: the roster names each participant's peer leader; the phone keeps these names.
        leaders = await User.filter(
            community_id=user.community_id,  # type: ignore[attr-defined]
            role=Role.PEER_LEADER,
        ).values_list("id", "display_name")
        result["peer_leaders"] = {str(i): name for i, name in leaders}
    return result


# --- the signed-in user's passkeys and devices --------------------------------------------------


def _passkey(c: Credential) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "name": c.name,
        "created_at": c.created_at.isoformat(),
        "last_used_at": c.last_used_at.isoformat() if c.last_used_at else None,
        "backed_up": c.backed_up,
    }


async def _own_passkey(request: Req, passkey_id: uuid.UUID) -> Credential:
    found = await Credential.get_or_none(id=passkey_id, user_id=current_user(request).id)
    if found is None:
        raise NotFoundException("No such passkey on your account.")
    return found


def _name(data: dict[str, Any]) -> str:
    try:
        name = validate.clean_text(str(data.get("name") or ""))
    except validate.Invalid:
        raise HTTPException(
            status_code=422,
            detail="A passkey's name cannot hold control characters (such as NUL) or bidirectional overrides.",
            extra={"error": "invalid"},
        ) from None
    if not name or len(name) > 120:
        raise HTTPException(
            status_code=422,
            detail="Give the passkey a name of 1 to 120 characters.",
            extra={"error": "invalid"},
        )
    return name


@get("/api/auth/passkeys", opt=roles(*ALL_ROLES))
async def list_passkeys(request: Req) -> dict[str, Any]:
    rows = await Credential.filter(user_id=current_user(request).id).order_by("created_at")
    return {"passkeys": [_passkey(c) for c in rows]}


@post("/api/auth/passkeys/options", opt=roles(*ALL_ROLES), status_code=HTTP_200_OK)
async def add_passkey_options(request: Req) -> dict[str, Any]:
    return await passkeys.registration_options(
        current_user(request), settings_of(request.app.state), Purpose.ADD
    )


@post("/api/auth/passkeys", opt=roles(*ALL_ROLES), status_code=201)
async def add_passkey(request: Req, data: JSONBody[Any]) -> dict[str, Any]:
    """Body: ``{"name": "...", "credential": <PublicKeyCredential.toJSON()>}``."""
    body = _json_object(data)
    user = current_user(request)
    name = _name(body)
    try:
        credential = await passkeys.register(
            user,
            _json_object(body.get("credential")),
            settings_of(request.app.state),
            Purpose.ADD,
            name,
        )
    except PasskeyRefused as refused:
        await audit.record(
            "passkey.add_failed", actor=user, connection=request, reason=refused.reason
        )
        raise
    await audit.record(
        "passkey.added",
        actor=user,
        connection=request,
        entity="credential",
        record_id=str(credential.id),
    )
    return _passkey(credential)


@patch("/api/auth/passkeys/{passkey_id:uuid}", opt=roles(*ALL_ROLES))
async def rename_passkey(
    request: Req, passkey_id: FromPath[uuid.UUID], data: JSONBody[Any]
) -> dict[str, Any]:
    found = await _own_passkey(request, passkey_id)
    found.name = _name(_json_object(data))
    await Credential.filter(id=found.id).update(name=found.name)
    return _passkey(found)


@delete("/api/auth/passkeys/{passkey_id:uuid}", opt=roles(*ALL_ROLES), status_code=HTTP_200_OK)
async def remove_passkey(request: Req, passkey_id: FromPath[uuid.UUID]) -> dict[str, Any]:
    user = current_user(request)
    found = await _own_passkey(request, passkey_id)
    if await Credential.filter(user_id=user.id).count() <= 1:
        raise HTTPException(
            status_code=409,
            detail="This is your only passkey: without it you could not sign in. Add another passkey first.",
            extra={"error": "last_passkey"},
        )
    await found.delete()
    await audit.record(
        "passkey.removed",
        actor=user,
        connection=request,
        entity="credential",
        record_id=str(found.id),
    )
    return {"removed": str(found.id)}


def _device(d: Device, current: uuid.UUID | None, keyed: set[uuid.UUID]) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "label": d.label,
        "sign_in": "device_key" if d.id in keyed else "passkey",
        "created_at": d.created_at.isoformat(),
        "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
        "last_sync_at": d.last_sync_at.isoformat() if d.last_sync_at else None,
        "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None,
        "current": d.id == current,
    }


@get("/api/auth/devices", opt=roles(*ALL_ROLES))
async def list_devices(request: Req) -> dict[str, Any]:
    rows = await Device.filter(user_id=current_user(request).id).order_by("-last_seen_at")
    current = get_auth(request).device_id
    keyed = await device_keys.devices_with_keys([d.id for d in rows])
    return {"devices": [_device(d, current, keyed) for d in rows]}


@post("/api/auth/devices/{device_id:uuid}/revoke", opt=roles(*ALL_ROLES), status_code=HTTP_200_OK)
async def revoke_own_device(request: Req, device_id: FromPath[uuid.UUID]) -> dict[str, Any]:
    """A user signs out (and wipes) one of their own devices, e.g. a lost phone."""
    user = current_user(request)
    device = await Device.get_or_none(id=device_id, user_id=user.id)
    if device is None:
        raise NotFoundException("No such device on your account.")
    await revoke_device(device, user, request)
    return {"revoked": str(device.id)}


# --- pages --------------------------------------------------------------------------------------


def _safe_next(raw: str | None) -> str:
    # Only a path on this site: never an open redirect to another host.
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


def _in_app(request: Req) -> dict[str, Any]:
    """What the in-app browser notice needs (nothing in an ordinary browser)."""
    found = inapp.detect(request.headers.get("user-agent", ""))
    if found is None:
        return {"inapp": None}
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = settings_of(request.app.state).origin + request.url.path + (f"?{query}" if query else "")
    return {"inapp": found, "page_url": url}


@get("/signin", opt=public(), include_in_schema=False)
async def signin_page(request: Req) -> Template:
    # A new program's first day: nobody can sign in until the first administrator is made on
    # the server's command line (SPEC 7), so the page says how.
    first_day = not await User.filter(role=Role.ADMIN, is_active=True).exists()
    return render(
        request,
        "auth/signin.html",
        {
            "next": _safe_next(request.query_params.get("next")),
            # A phone that was switched off lands here after wiping itself: say why.
            "revoked": request.query_params.get("why") == "revoked",
            **_in_app(request),
            "first_day": first_day,
        },
    )


@get("/invite", opt=public(), include_in_schema=False)
async def invite_by_code(request: Req) -> Redirect:
    typed = request.query_params.get("code", "")
    if not typed.strip():
        return Redirect("/signin")
    # A code that cannot be one still gets the invite page's "not known" answer, from a
    # path that is plain ASCII whatever was typed.
    return Redirect(f"/invite/{quote(normalise_code(typed) or typed[:64], safe='')}")


@get("/invite/{code:str}", opt=public(), include_in_schema=False)
async def invite_page(request: Req, code: FromPath[str]) -> Template:
    await _limit(request, "invite")
    invite, problem = await find_invite(code)
    if problem is not None:
        return render(
            request,
            "auth/invite_problem.html",
            {"problem": problem, "message": INVITE_PROBLEMS[problem]},
            status_code=404 if problem == "unknown" else 410,
        )
    assert invite is not None
    # Opening (or a chat app's link preview fetching) the page never uses the invite up: only a
    # registration does.
    return render(
        request,
        "auth/invite.html",
        {
            "code": invite.code,
            "display_name": invite.user.display_name,
            "device_key_allowed": device_keys.allowed(invite.user, settings_of(request.app.state)),
            **_in_app(request),
        },
    )


@head("/invite/{code:str}", opt=public(), include_in_schema=False)
async def invite_page_head(request: Req, code: FromPath[str]) -> Response[None]:
    """A link-preview bot's HEAD: the page's status, and nothing used up."""
    await _limit(request, "invite")
    _, problem = await find_invite(code)
    status = 200 if problem is None else 404 if problem == "unknown" else 410
    return Response(None, status_code=status, media_type="text/html")


@get("/account", opt=roles(*ALL_ROLES), include_in_schema=False)
async def account_page(request: Req) -> Template:
    user = current_user(request)
    devices = await Device.filter(user_id=user.id).order_by("-last_seen_at")
    return render(
        request,
        "account.html",
        {
            "user": user,
            "passkeys": await Credential.filter(user_id=user.id).order_by("created_at"),
            "devices": devices,
            "key_devices": await device_keys.devices_with_keys([d.id for d in devices]),
            "current_device_id": get_auth(request).device_id,
        },
    )


ROUTES: list[Any] = [
    invite_options,
    invite_register,
    invite_device_key_options,
    invite_device_key,
    device_key_login_options,
    device_key_login,
    login_options,
    login,
    logout,
    me,
    list_passkeys,
    add_passkey_options,
    add_passkey,
    rename_passkey,
    remove_passkey,
    list_devices,
    revoke_own_device,
    signin_page,
    invite_by_code,
    invite_page,
    invite_page_head,
    account_page,
]
