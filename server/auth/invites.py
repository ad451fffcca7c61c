"""One-time invites: a link and a short code that let a new user register a passkey."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from server.settings import Settings
from sync.models import AuditEvent, Invite, User

# No 0/O, 1/I/L: the code is read aloud over the phone and typed by older volunteers.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(code: str) -> str:
    """Accept the code as people type it: any case, with or without the dash or spaces."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else code.strip().upper()


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
