"""The signed-in user's own account: who they are (``/api/auth/me``), their passkeys and
devices (``/api/auth/passkeys``, ``/api/auth/devices``) and the account page. Cutting a device
off is in ``devices``."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, delete, get, patch, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK

from server.auth import audit, bodies, device_keys, passkeys
from server.auth.bodies import (
    CreationOptions,
    DeviceList,
    DeviceRevoked,
    Me,
    NewPasskey,
    Passkey,
    PasskeyList,
    PasskeyName,
    PasskeyRemoved,
)
from server.auth.devices import revoke_device
from server.auth.passkeys import PasskeyRefused, Purpose
from server.auth.signin import who
from server.deps import AppSettings, CurrentUser, Req
from server.i18n import render
from sync import validate
from sync.models import Credential, Device, Role, User


@get("/api/auth/me")
async def me(request: Req, user: CurrentUser) -> Me:
    device_id = request.auth.device_id
    result = Me(**who(user), device_id=str(device_id) if device_id else None)
    if user.role is Role.VOLUNTEER and user.community_id:  # type: ignore[attr-defined]
        # SPEC 1: the roster names each participant's peer leader; the phone keeps these names.
        leaders = await User.filter(
            community_id=user.community_id,  # type: ignore[attr-defined]
            role=Role.PEER_LEADER,
        ).values_list("id", "display_name")
        result.peer_leaders = {str(i): name for i, name in leaders}
    elif user.community_id:  # type: ignore[attr-defined]
        # The health centre's staff, offered as a meeting's co-leader (SPEC 2) on the phone.
        staff = await User.filter(
            community_id=user.community_id,  # type: ignore[attr-defined]
            role=Role.COORDINATOR,
            is_active=True,
        ).values_list("display_name", flat=True)
        result.staff = sorted(str(name) for name in staff)
    return result


def _passkey(c: Credential) -> Passkey:
    return Passkey(
        id=str(c.id),
        name=c.name,
        created_at=c.created_at.isoformat(),
        last_used_at=c.last_used_at.isoformat() if c.last_used_at else None,
        backed_up=c.backed_up,
    )


async def _own_passkey(user: User, passkey_id: uuid.UUID) -> Credential:
    found = await Credential.get_or_none(id=passkey_id, user_id=user.id)
    if found is None:
        raise NotFoundException("No such passkey on your account.")
    return found


def _name(data: NewPasskey | PasskeyName) -> str:
    try:
        name = validate.clean_text(data.name)
    except validate.Invalid:
        raise HTTPException(
            status_code=422,
            detail="A passkey's name cannot hold control characters (such as NUL) or bidirectional overrides.",
            extra={"error": "invalid"},
        ) from None
    if not name or len(name) > passkeys.NAME_MAX:
        raise HTTPException(
            status_code=422,
            detail=f"Give the passkey a name of 1 to {passkeys.NAME_MAX} characters.",
            extra={"error": "invalid"},
        )
    return name


class PasskeyController(Controller):
    """``/api/auth/passkeys``: the signed-in user's own passkeys."""

    path = "/api/auth/passkeys"

    @get("/")
    async def list_passkeys(self, user: CurrentUser) -> PasskeyList:
        rows = await Credential.filter(user_id=user.id).order_by("created_at")
        return PasskeyList(passkeys=[_passkey(c) for c in rows])

    @post("/options", status_code=HTTP_200_OK)
    async def add_passkey_options(
        self, user: CurrentUser, settings: AppSettings
    ) -> CreationOptions:
        return await passkeys.registration_options(user, settings, Purpose.ADD)

    @post("/", status_code=201)
    async def add_passkey(
        self, request: Req, user: CurrentUser, settings: AppSettings, data: JSONBody[NewPasskey]
    ) -> Passkey:
        name = _name(data)
        try:
            credential = await passkeys.register(
                user, data.credential.as_json(), settings, Purpose.ADD, name
            )
        except PasskeyRefused as refused:
            await audit.record(
                "passkey.add_failed", actor=user, connection=request, reason=refused.reason
            )
            raise
        await passkeys.record_added(user, credential, request)
        return _passkey(credential)

    @patch("/{passkey_id:uuid}")
    async def rename_passkey(
        self, user: CurrentUser, passkey_id: FromPath[uuid.UUID], data: JSONBody[PasskeyName]
    ) -> Passkey:
        found = await _own_passkey(user, passkey_id)
        found.name = _name(data)
        await Credential.filter(id=found.id).update(name=found.name)
        return _passkey(found)

    @delete("/{passkey_id:uuid}", status_code=HTTP_200_OK)
    async def remove_passkey(
        self, request: Req, user: CurrentUser, passkey_id: FromPath[uuid.UUID]
    ) -> PasskeyRemoved:
        found = await _own_passkey(user, passkey_id)
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
        return PasskeyRemoved(removed=str(found.id))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _device(d: Device, current: uuid.UUID | None, keyed: set[uuid.UUID]) -> bodies.Device:
    return bodies.Device(
        id=str(d.id),
        label=d.label,
        sign_in="device_key" if d.id in keyed else "passkey",
        created_at=d.created_at.isoformat(),
        last_seen_at=_iso(d.last_seen_at),
        last_sync_at=_iso(d.last_sync_at),
        revoked_at=_iso(d.revoked_at),
        current=d.id == current,
    )


class DeviceController(Controller):
    """``/api/auth/devices``: the signed-in user's own devices."""

    path = "/api/auth/devices"

    @get("/")
    async def list_devices(self, request: Req, user: CurrentUser) -> DeviceList:
        rows = await Device.filter(user_id=user.id).order_by("-last_seen_at")
        keyed = await device_keys.devices_with_keys([d.id for d in rows])
        return DeviceList(devices=[_device(d, request.auth.device_id, keyed) for d in rows])

    @post("/{device_id:uuid}/revoke", status_code=HTTP_200_OK)
    async def revoke_own_device(
        self, request: Req, user: CurrentUser, device_id: FromPath[uuid.UUID]
    ) -> DeviceRevoked:
        """A user signs out (and wipes) one of their own devices, e.g. a lost phone."""
        device = await Device.get_or_none(id=device_id, user_id=user.id)
        if device is None:
            raise NotFoundException("No such device on your account.")
        await revoke_device(device, user, request)
        return DeviceRevoked(revoked=str(device.id))


@get("/account", include_in_schema=False)
async def account_page(request: Req, user: CurrentUser) -> Template:
    devices = await Device.filter(user_id=user.id).order_by("-last_seen_at")
    return render(
        request,
        "account.html",
        {
            "user": user,
            "passkeys": await Credential.filter(user_id=user.id).order_by("created_at"),
            "devices": devices,
            "key_devices": await device_keys.devices_with_keys([d.id for d in devices]),
            "current_device_id": request.auth.device_id,
            "passkey_name_max": passkeys.NAME_MAX,
        },
    )
