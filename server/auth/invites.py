"""One-time invites: a link and a short code that let a new user register a passkey."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta

from server.settings import Settings
from sync.models import AuditEvent, Invite, User

# No 0/O, 1/I/L: the code is read aloud over the phone and typed by older volunteers.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


# What a code can be once normalised; anything else is unknown without asking the database
# (an over-long or non-ASCII "code" from a link or a fuzzer must be a 404, not a 5xx).
WELL_FORMED = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}")
_LONGEST_TYPED = 64


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


async def create_invite(user: User, settings: Settings, created_by: User | None = None) -> Invite:
    """A fresh invite for ``user``; earlier unused invites for them stop working."""
    now = datetime.now(UTC)
    await Invite.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
    invite = await Invite.create(
        code=new_code(),
        user=user,
        created_by=created_by,
        expires_at=now + timedelta(days=settings.invite_days),
    )
    await AuditEvent.create(
        actor=created_by,
        action="invite.created",
        entity="user",
        record_id=str(user.id),
        detail={"invite_id": str(invite.id)},
    )
    return invite


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
