"""Enrolment by invite: the invite page and its JSON API under ``/api/auth/invites/{code}``
(a passkey, or a device key for phones that cannot make one), each ending signed in."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get, head, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from server.auth import audit, device_keys, passkeys
from server.auth.bodies import (
    CreationOptions,
    DeviceKeyOptions,
    DeviceKeyRegistration,
    PasskeyCredential,
    SignedIn,
)
from server.auth.device_keys import DeviceKeyRefused
from server.auth.devices import bind_device, device_label, parse_device_id
from server.auth.invites import INVITE_PROBLEMS, find_invite, normalise_code, use_invite
from server.auth.passkeys import PasskeyRefused, Purpose
from server.auth.session import DEVICE_HEADER, public
from server.auth.signin import in_app, key_refused, limit, sign_in
from server.deps import AppSettings, Req
from server.i18n import render
from server.settings import Settings
from sync.models import Credential, DeviceKey, User


async def _usable_invite(request: Req, settings: Settings, code: str) -> Any:
    await limit(request, settings, "invite")
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


class InviteController(Controller):
    """``/api/auth/invites/{code}/…``: anyone holding a usable invite code."""

    path = "/api/auth/invites/{code:str}"
    opt = public()

    @post("/options", status_code=HTTP_200_OK)
    async def invite_options(
        self, request: Req, settings: AppSettings, code: FromPath[str]
    ) -> CreationOptions:
        invite = await _usable_invite(request, settings, code)
        return await passkeys.registration_options(
            invite.user, settings, Purpose.REGISTER, invite=invite
        )

    @post("/register", status_code=HTTP_200_OK)
    async def invite_register(
        self,
        request: Req,
        settings: AppSettings,
        code: FromPath[str],
        data: JSONBody[PasskeyCredential],
    ) -> Response[SignedIn]:
        invite = await _usable_invite(request, settings, code)
        user: User = invite.user
        name = device_label(request.headers.get("user-agent", ""))
        try:
            credential = await passkeys.register(
                user, data.as_json(), settings, Purpose.REGISTER, name, invite=invite
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
        await passkeys.record_added(user, credential, request)
        return await sign_in(request, settings, user, credential, "invite")

    # Device keys (SPEC 5: phones that cannot make a passkey).

    @post("/device-key/options", status_code=HTTP_200_OK)
    async def invite_device_key_options(
        self, request: Req, settings: AppSettings, code: FromPath[str]
    ) -> DeviceKeyOptions:
        """A challenge the phone signs with its new key; refused for roles that need a
        passkey."""
        invite = await _usable_invite(request, settings, code)
        if not device_keys.allowed(invite.user, settings):
            raise await key_refused(
                request, DeviceKeyRefused("role_not_allowed"), invite.user, "invite", str(invite.id)
            )
        return await device_keys.options(device_keys.REGISTER, user=invite.user, invite=invite)

    @post("/device-key", status_code=HTTP_200_OK)
    async def invite_device_key(
        self,
        request: Req,
        settings: AppSettings,
        code: FromPath[str],
        data: JSONBody[DeviceKeyRegistration],
    ) -> Response[SignedIn]:
        """With the phone's ``x-peerlog-device``: registers the key for that device and signs
        in."""
        invite = await _usable_invite(request, settings, code)
        user: User = invite.user
        device_id = parse_device_id(request.headers.get(DEVICE_HEADER))
        try:
            public_key = await device_keys.verify_registration(
                user, invite, data, device_id, settings
            )
        except DeviceKeyRefused as refused:
            raise await key_refused(request, refused, user, "invite", str(invite.id)) from None
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
        return await sign_in(request, settings, user, key, "invite")


# --- pages --------------------------------------------------------------------------------------


@get("/invite")
async def invite_by_code(request: Req) -> Redirect:
    typed = request.query_params.get("code", "")
    if not typed.strip():
        return Redirect("/signin")
    # A code that cannot be one still gets the invite page's "not known" answer, from a
    # path that is plain ASCII whatever was typed.
    return Redirect(f"/invite/{quote(normalise_code(typed) or typed[:64], safe='')}")


@get("/invite/{code:str}")
async def invite_page(request: Req, settings: AppSettings, code: FromPath[str]) -> Template:
    await limit(request, settings, "invite")
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
            "device_key_allowed": device_keys.allowed(invite.user, settings),
            **in_app(request, settings),
        },
    )


@head("/invite/{code:str}")
async def invite_page_head(
    request: Req, settings: AppSettings, code: FromPath[str]
) -> Response[None]:
    """A link-preview bot's HEAD: the page's status, and nothing used up."""
    await limit(request, settings, "invite")
    _, problem = await find_invite(code)
    status = 200 if problem is None else 404 if problem == "unknown" else 410
    return Response(None, status_code=status, media_type="text/html")
