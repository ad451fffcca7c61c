"""One-time invites: a link and a short code that let a new user register a passkey."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta

from server.settings import Settings
from sync.models import AuditEvent, Credential, Device, DeviceKey, Invite, Role, User

# No 0/O, 1/I/L: the code is read aloud over the phone and typed by older volunteers.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


# What a code can be once normalised; anything else is unknown without asking the database
# (an over-long or non-ASCII "code" from a link or a fuzzer must be a 404, not a 5xx).
WELL_FORMED = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}")
_LONGEST_TYPED = 64
# The sign-in page's code field: "ABCD-EFGH" and a few stray spaces.
CODE_FIELD_MAX = 12


def normalise_code(code: str) -> str:
    """Accept the code as people type it: any case, with or without the dash or spaces, and in
    full-width characters (a Chinese input method's ＫＸ７…: NFKC makes them ASCII)."""
    if len(code) > _LONGEST_TYPED:
        return ""
    code = unicodedata.normalize("NFKC", code)
    raw = "".join(ch for ch in code.upper() if ch.isascii() and ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else ""


def invite_link(settings: Settings, code: str) -> str:
    return f"{settings.origin}/invite/{code}"


class InviteRefused(PermissionError):
    """Only an administrator may make an invite for a user who can already sign in (SPEC 5)."""


ADMIN_ONLY = "Only an administrator can make a new invite for someone who can already sign in."
# What a device is told at its next sync (``Device.notice``, sent as ``X-Peerlog-Notice``).
NOTICE_INVITE = "invite"


async def already_enrolled(user: User) -> bool:
    """The user can sign in already (a passkey, or a device key not revoked): a new invite
    would let its holder add their own way in to this account."""
    return await Credential.exists(user_id=user.id) or await DeviceKey.exists(
        user_id=user.id, revoked_at=None
    )


async def create_invite(user: User, settings: Settings, created_by: User | None = None) -> Invite:
    """A fresh invite for ``user``; earlier unused invites for them stop working.

    For a user who can already sign in, only an administrator (or the operator's command line,
    ``created_by`` None) may make one, or a coordinator could register their own passkey on a
    peer leader's account. Such an invite is audited as one and every device of the user is
    told at its next sync."""
    enrolled = await already_enrolled(user)
    if enrolled and created_by is not None and created_by.role != Role.ADMIN:
        await AuditEvent.create(
            actor=created_by,
            action="invite.create_refused",
            entity="user",
            record_id=str(user.id),
            detail={"reason": "already_enrolled"},
        )
        raise InviteRefused(ADMIN_ONLY)
    now = datetime.now(UTC)
    await Invite.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
    invite = await Invite.create(
        code=new_code(),
        user=user,
        created_by=created_by,
        expires_at=now + timedelta(days=settings.invite_days),
    )
    told = 0
    if enrolled:
        told = await Device.filter(user_id=user.id, revoked_at=None).update(
            notice=NOTICE_INVITE, notice_at=now
        )
    await AuditEvent.create(
        actor=created_by,
        action="invite.created",
        entity="user",
        record_id=str(user.id),
        detail={
            "invite_id": str(invite.id),
            **({"already_enrolled": True, "devices_told": told} if enrolled else {}),
        },
    )
    return invite


async def device_notice(device_id: str, settings: Settings) -> str | None:
    """The ``X-Peerlog-Notice`` value for a device's sync answer, or None: sent while the
    notice is as young as an invite's life, so a lost answer is no lost notice; the phone keeps
    the ``at`` of the one it has shown and shows each only once."""
    rows = await Device.filter(id=device_id, notice__isnull=False).values_list(
        "notice", "notice_at"
    )
    if not rows:
        return None
    notice, at = rows[0]
    if at is None or at < datetime.now(UTC) - timedelta(days=settings.invite_days):
        return None
    return f"{notice}; at={at.astimezone(UTC).isoformat(timespec='seconds')}"


INVITE_PROBLEMS = {
    "unknown": "This invite code is not known. Check the code, or ask your coordinator for a new invite.",
    "used": "This invite has already been used to create a passkey. If that was not you, or you lost your phone, ask your coordinator for a new invite.",
    "expired": "This invite has expired. Ask your coordinator for a new one.",
    "revoked": "This invite was withdrawn. Ask your coordinator for a new one.",
    "inactive": "This account has been switched off. Ask your coordinator.",
}


async def find_invite(code: str) -> tuple[Invite | None, str | None]:
    """The invite for a code and, when it cannot be used, why (a key of ``INVITE_PROBLEMS``)."""
    code = normalise_code(code)
    if not WELL_FORMED.fullmatch(code):
        return None, "unknown"
    invite = await Invite.get_or_none(code=code).select_related("user")
    if invite is None:
        return None, "unknown"
    if invite.used_at is not None:
        return invite, "used"
    if invite.revoked_at is not None:
        return invite, "revoked"
    if invite.expires_at <= datetime.now(UTC):
        return invite, "expired"
    if not invite.user.is_active:
        return invite, "inactive"
    return invite, None


async def use_invite(invite: Invite) -> bool:
    """Mark the invite used; False when another request used it first."""
    now = datetime.now(UTC)
    return bool(
        await Invite.filter(id=invite.id, used_at=None, revoked_at=None, expires_at__gt=now).update(
            used_at=now
        )
    )


async def revoke_invite(invite: Invite, by: User | None) -> None:
    await Invite.filter(id=invite.id, used_at=None, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    await AuditEvent.create(
        actor=by,
        action="invite.revoked",
        entity="user",
        record_id=str(invite.user_id),  # type: ignore[attr-defined]
        detail={"invite_id": str(invite.id)},
    )
