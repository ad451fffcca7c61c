"""Devices and accounts being cut off: revoking a device, deactivating a user.

Both end sessions in the same request, so the very next call from that phone is refused; a
revoked device is answered 403 ``device_revoked`` and the app wipes its local data.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException

from server.auth import audit, device_keys
from server.auth.session import end_sessions
from sync.models import AuditEvent, Credential, Device, Invite, User


class DeviceInUse(HTTPException):
    status_code = 409

    def __init__(self) -> None:
        super().__init__(
            detail="This browser is registered to another person. Sign in again to use it as a new device.",
            extra={"error": "device_in_use"},
        )


def device_label(user_agent: str) -> str:
    """A name a person recognises ("Android phone · Chrome"), from the User-Agent."""
    ua = user_agent or ""
    if "iPhone" in ua:
        kind = "iPhone"
    elif "iPad" in ua:
        kind = "iPad"
    elif "Android" in ua:
        kind = "Android phone" if "Mobile" in ua else "Android tablet"
    elif "Windows" in ua:
        kind = "Windows computer"
    elif "Mac OS X" in ua or "Macintosh" in ua:
        kind = "Mac"
    elif "CrOS" in ua:
        kind = "Chromebook"
    elif "Linux" in ua:
        kind = "Linux computer"
    else:
        kind = "Device"
    for marker, browser in (
        ("MicroMessenger", "WeChat"),
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ):
        if marker in ua:
            return f"{kind} · {browser}"
    return kind


def parse_device_id(raw: str | None) -> uuid.UUID | None:
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def bind_device(user: User, device_id: uuid.UUID | None, user_agent: str) -> Device | None:
    """The signing-in phone's Device row, made or refreshed; None when it sent no device id."""
    if device_id is None:
        return None
    now = datetime.now(UTC)
    device = await Device.get_or_none(id=device_id)
    if device is None:
        return await Device.create(
            id=device_id, user=user, label=device_label(user_agent), last_seen_at=now
        )
    if device.user_id != user.id or device.revoked_at is not None:  # type: ignore[attr-defined]
        # A device id belongs to one person for good: its mutation log and scope are theirs.
        raise DeviceInUse()
    await Device.filter(id=device.id).update(last_seen_at=now, label=device_label(user_agent))
    return device


async def revoke_device(
    device: Device, by: User, connection: ASGIConnection[Any, Any, Any, Any] | None = None
) -> None:
    now = datetime.now(UTC)
    await Device.filter(id=device.id, revoked_at=None).update(revoked_at=now, revoked_by_id=by.id)
    ended = await end_sessions(device_id=device.id)
    removed = await _remove_passkeys_only_used_on(device, by, connection)
    for key_id in await device_keys.revoke_for_device(device):
        await audit.record(
            "device_key.revoked",
            actor=by,
            connection=connection,
            entity="device_key",
            record_id=key_id,
            reason="device_revoked",
        )
    await audit.record(
        "device.revoked",
        actor=by,
        connection=connection,
        entity="device",
        record_id=str(device.id),
        user_id=str(device.user_id),  # type: ignore[attr-defined]
        sessions_ended=ended,
        passkeys_removed=removed,
    )


_PASSKEY_USE = ("signin.success", "passkey.added")


async def _remove_passkeys_only_used_on(
    device: Device, by: User, connection: ASGIConnection[Any, Any, Any, Any] | None
) -> int:
    """A lost phone keeps its passkey: without this, whoever unlocks it could simply sign in
    again as a new device. Passkeys used on no other live device are removed with it; a synced
    passkey the person also uses elsewhere stays (they can remove it on their account page)."""
    used_here = set(
        await AuditEvent.filter(action__in=_PASSKEY_USE, device_id=device.id).values_list(
            "record_id", flat=True
        )
    )
    removed = 0
    for credential_id in used_here:
        elsewhere = (
            await AuditEvent.filter(action__in=_PASSKEY_USE, record_id=credential_id)
            .exclude(device_id=device.id)
            .values_list("device_id", flat=True)
        )
        live = [d for d in elsewhere if d is not None]
        if live and await Device.filter(id__in=live, revoked_at=None).exists():
            continue
        if await Credential.filter(id=_uuid(credential_id), user_id=device.user_id).delete():  # type: ignore[attr-defined]
            removed += 1
            await audit.record(
                "passkey.removed",
                actor=by,
                connection=connection,
                entity="credential",
                record_id=str(credential_id),
                reason="device_revoked",
            )
    return removed


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def deactivate_user(
    user: User, by: User, connection: ASGIConnection[Any, Any, Any, Any] | None = None
) -> None:
    """Switch the account off: sessions end, invites stop working, its devices wipe themselves."""
    now = datetime.now(UTC)
    await User.filter(id=user.id).update(is_active=False, deactivated_at=now)
    await Invite.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
    await Device.filter(user=user, revoked_at=None).update(revoked_at=now, revoked_by_id=by.id)
    ended = await end_sessions(user=user)
    await audit.record(
        "user.deactivated",
        actor=by,
        connection=connection,
        entity="user",
        record_id=str(user.id),
        sessions_ended=ended,
    )
