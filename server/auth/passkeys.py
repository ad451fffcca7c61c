"""WebAuthn ceremonies: options out, responses verified by py_webauthn, challenges single-use.

Every refusal raises ``PasskeyRefused`` with a reason code (for the audit log and the client)
and a message a person can act on. Challenges live in the database, so the options and the
response may reach different server processes.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from server.auth import audit
from server.auth.bodies import CreationOptions, RequestOptions
from server.settings import Settings
from sync.models import Challenge, Credential, Invite, User

CHALLENGE_MINUTES = 5
TIMEOUT_MS = 120_000
NAME_MAX = 120  # a passkey's name, as its owner gives it

MESSAGES = {
    "malformed": "The passkey response could not be read. Try again.",
    "unknown_challenge": "This attempt is not recognised. Start again.",
    "replayed": "This attempt was already used once. Start again.",
    "expired_challenge": "This attempt took too long. Start again.",
    "wrong_origin": "The passkey answered for a different web address. Open Peerlog at its usual address and try again.",
    "wrong_rp_id": "The passkey belongs to a different website. Open Peerlog at its usual address and try again.",
    "not_verified": "The phone did not confirm it was you (screen lock). Try again and unlock when asked.",
    "invalid_response": "The passkey could not be verified. Try again.",
    "unknown_passkey": "This passkey is not known here. It may have been removed: ask your coordinator for a new invite.",
    "user_inactive": "This account has been switched off. Ask your coordinator.",
    "counter_regression": "This passkey looks copied (its use counter went backwards), so it was refused. Ask your coordinator.",
    "backup_flags_changed": "This passkey changed in a way that is not allowed, so it was refused. Ask your coordinator.",
    "already_registered": "This passkey is already registered.",
}


class PasskeyRefused(HTTPException):
    status_code = 400

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(detail=MESSAGES[reason], extra={"error": reason})


class Purpose:
    REGISTER = "register"  # first passkey, from an invite
    ADD = "add_passkey"  # another passkey, signed in
    LOGIN = "login"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def new_challenge(
    purpose: str, user: User | None = None, invite: Invite | None = None
) -> bytes:
    """A fresh single-use challenge for ``purpose``, kept in the database for a few minutes."""
    raw = secrets.token_bytes(32)
    now = datetime.now(UTC)
    await Challenge.create(
        challenge=_b64url(raw),
        purpose=purpose,
        user=user,
        invite=invite,
        expires_at=now + timedelta(minutes=CHALLENGE_MINUTES),
    )
    # Old challenges are useless; keep the table small without a separate job.
    await Challenge.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    return raw


async def _consume_challenge(
    credential: dict[str, Any], purpose: str, user: User | None, invite: Invite | None
) -> bytes:
    """Mark the challenge this response answers as used, or refuse. Single use, even on failure."""
    try:
        client_data = json.loads(_unb64url(credential["response"]["clientDataJSON"]))
        text = str(client_data["challenge"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise PasskeyRefused("malformed") from None
    reason = await consume_challenge(text, purpose, user, invite)
    if reason is not None:
        raise PasskeyRefused(reason)
    return _unb64url(text)


async def consume_challenge(
    text: str, purpose: str, user: User | None, invite: Invite | None
) -> str | None:
    """Mark a challenge used; None when it was live, else why not (a reason code)."""
    row = await Challenge.get_or_none(challenge=text)
    if (
        row is None
        or row.purpose != purpose
        or (user is not None and row.user_id != user.id)  # type: ignore[attr-defined]
        or (invite is not None and row.invite_id != invite.id)  # type: ignore[attr-defined]
    ):
        return "unknown_challenge"
    now = datetime.now(UTC)
    # The conditional UPDATE is the single-use check: two processes racing, only one wins.
    taken = await Challenge.filter(id=row.id, used_at=None, expires_at__gt=now).update(used_at=now)
    if not taken:
        return "replayed" if row.used_at is not None else "expired_challenge"
    return None


def _reason(exc: WebAuthnException) -> str:
    text = str(exc).lower()
    if "origin" in text:
        return "wrong_origin"
    if "rp id" in text:
        return "wrong_rp_id"
    if "user verification" in text or "not verified" in text:
        return "not_verified"
    return "invalid_response"


async def _handle(user: User) -> bytes:
    if not user.webauthn_handle:
        # A random handle, never the primary key or a name: the phone stores it with the passkey.
        user.webauthn_handle = secrets.token_bytes(32)
        await User.filter(id=user.id).update(webauthn_handle=user.webauthn_handle)
    return bytes(user.webauthn_handle)


async def registration_options(
    user: User, settings: Settings, purpose: str, invite: Invite | None = None
) -> CreationOptions:
    """Creation options for a discoverable passkey with user verification."""
    existing = await Credential.filter(user=user).values_list("credential_id", flat=True)
    options = generate_registration_options(
        rp_id=settings.rp_id,
        rp_name=settings.rp_name,
        user_name=user.username,
        user_id=await _handle(user),
        user_display_name=user.display_name,
        challenge=await new_challenge(purpose, user=user, invite=invite),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=_unb64url(str(cid))) for cid in existing
        ],
    )
    return msgspec.convert(options_to_json_dict(options), CreationOptions)


async def register(
    user: User,
    credential: dict[str, Any],
    settings: Settings,
    purpose: str,
    name: str,
    invite: Invite | None = None,
) -> Credential:
    """Verify a new passkey's registration and store it for ``user``."""
    challenge = await _consume_challenge(credential, purpose, user, invite)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise PasskeyRefused(_reason(exc)) from None
    credential_id = _b64url(verified.credential_id)
    if await Credential.exists(credential_id=credential_id):
        raise PasskeyRefused("already_registered")
    transports = credential.get("response", {}).get("transports") or []
    return await Credential.create(
        user=user,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t) for t in transports][:8],
        aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        name=name[:NAME_MAX] or "Passkey",
    )


async def record_added(
    user: User, credential: Credential, connection: ASGIConnection[Any, Any, Any, Any]
) -> None:
    """The audit row for a passkey ``register`` stored (at enrolment or from the account page)."""
    await audit.record(
        "passkey.added",
        actor=user,
        connection=connection,
        entity="credential",
        record_id=str(credential.id),
    )


async def authentication_options(settings: Settings) -> RequestOptions:
    """Request options with an empty allow-list: the phone offers its discoverable passkeys."""
    options = generate_authentication_options(
        rp_id=settings.rp_id,
        challenge=await new_challenge(Purpose.LOGIN),
        timeout=TIMEOUT_MS,
        allow_credentials=[],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return msgspec.convert(options_to_json_dict(options), RequestOptions)


async def authenticate(
    credential: dict[str, Any], settings: Settings
) -> tuple[Credential | None, PasskeyRefused | None]:
    """Verify a sign-in. Returns (credential, None) or (credential-if-known, refusal): the caller
    audits the refusal against the known user before raising it."""
    try:
        credential_id = str(credential["id"])
    except (KeyError, TypeError):
        return None, PasskeyRefused("malformed")
    stored = await Credential.get_or_none(credential_id=credential_id).select_related("user")
    try:
        challenge = await _consume_challenge(credential, Purpose.LOGIN, None, None)
    except PasskeyRefused as refused:
        return stored, refused
    if stored is None:
        return None, PasskeyRefused("unknown_passkey")
    user = stored.user
    try:
        handle = credential.get("response", {}).get("userHandle")
        if handle and user.webauthn_handle and _unb64url(handle) != bytes(user.webauthn_handle):
            return stored, PasskeyRefused("invalid_response")
        # The counter is checked below, after the signature: only a genuine assertion with a
        # lower counter is a sign of a cloned authenticator worth auditing as such.
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            credential_public_key=bytes(stored.public_key),
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, binascii.Error, ValueError) as exc:
        reason = _reason(exc) if isinstance(exc, WebAuthnException) else "malformed"
        return stored, PasskeyRefused(reason)
    if not user.is_active:
        return stored, PasskeyRefused("user_inactive")
    new_count = verified.new_sign_count
    if (new_count > 0 or stored.sign_count > 0) and new_count <= stored.sign_count:
        return stored, PasskeyRefused("counter_regression")
    eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if eligible != stored.backup_eligible:
        # Backup eligibility is fixed when a passkey is made; a change means another authenticator.
        return stored, PasskeyRefused("backup_flags_changed")
    now = datetime.now(UTC)
    await Credential.filter(id=stored.id).update(
        sign_count=new_count, backed_up=verified.credential_backed_up, last_used_at=now
    )
    stored.sign_count, stored.backed_up, stored.last_used_at = (
        new_count,
        verified.credential_backed_up,
        now,
    )
    return stored, None
