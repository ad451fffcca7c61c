"""Device keys (SPEC 5): sign-in for phones that cannot make a passkey.

The phone makes a non-extractable ECDSA P-256 key with WebCrypto and keeps it in IndexedDB. It
registers the public half through the same one-time invite a passkey would use, proving it holds
the private half by signing a single-use challenge, and the key is bound to that device id for
good. Signing in is signing another single-use challenge. What is signed names its purpose, the
origin, the device and the challenge, so a signature made for one of them answers no other.

WebCrypto signs in IEEE P1363 form (r‖s, 64 bytes for P-256); ``cryptography`` verifies DER, so
the two halves are re-encoded. Every refusal is a ``DeviceKeyRefused`` with a reason code for the
audit log and the client.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from litestar.exceptions import HTTPException

from server.auth.bodies import DeviceKeyOptions, DeviceKeyRegistration, DeviceKeySignIn
from server.auth.passkeys import MESSAGES as PASSKEY_MESSAGES
from server.auth.passkeys import consume_challenge, new_challenge
from server.settings import Settings
from sync.models import Device, DeviceKey, Invite, User

REGISTER = "key_register"
LOGIN = "key_login"
_PURPOSE_WORD = {REGISTER: "register", LOGIN: "login"}

MESSAGES = {
    "malformed": "The phone's answer could not be read. Reload the page and try again.",
    "unknown_challenge": PASSKEY_MESSAGES["unknown_challenge"],
    "replayed": PASSKEY_MESSAGES["replayed"],
    "expired_challenge": PASSKEY_MESSAGES["expired_challenge"],
    "no_device": "This browser sent no device id. Reload the page and try again.",
    "bad_key": "This phone made a key Peerlog cannot use. Open the invite in the phone's own browser, up to date.",
    "bad_signature": "This phone's key did not match. Ask your coordinator for a new invite.",
    "unknown_key": "This phone's key is not known here. Ask your coordinator for a new invite.",
    "wrong_device": "This key belongs to another device. Ask your coordinator for a new invite.",
    "key_revoked": "This phone was signed out, so its key no longer works. Ask your coordinator for a new invite.",
    "user_inactive": PASSKEY_MESSAGES["user_inactive"],
    "role_not_allowed": "Staff accounts need a passkey, and this browser cannot make one. Open the invite on a phone or computer with a fingerprint, face or screen lock, in an up-to-date Chrome, Edge or Safari.",
}


class DeviceKeyRefused(HTTPException):
    status_code = 400

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(detail=MESSAGES[reason], extra={"error": reason})
        if reason == "role_not_allowed":
            self.status_code = 403


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_message(purpose: str, origin: str, device_id: uuid.UUID, challenge: str) -> bytes:
    """The bytes a phone signs (the client builds the same in ``devicekey.js``)."""
    return (
        f"peerlog device key\n{_PURPOSE_WORD[purpose]}\n{origin}\n{device_id}\n{challenge}".encode()
    )


def allowed(user: User, settings: Settings) -> bool:
    """Whether the user's role may use a device key (``PEERLOG_DEVICE_KEY_ROLES``)."""
    role = user.role.value if hasattr(user.role, "value") else str(user.role)
    return role in settings.device_key_role_names


async def options(
    purpose: str, user: User | None = None, invite: Invite | None = None
) -> DeviceKeyOptions:
    """A single-use challenge for a registration or a sign-in."""
    raw = await new_challenge(purpose, user=user, invite=invite)
    return DeviceKeyOptions(challenge=_b64url(raw), purpose=_PURPOSE_WORD[purpose])


def _public_key(spki: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_der_public_key(spki)
    except (ValueError, TypeError):
        raise DeviceKeyRefused("bad_key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise DeviceKeyRefused("bad_key")
    return key


def _verify(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> None:
    if len(signature) != 64:
        raise DeviceKeyRefused("bad_signature")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise DeviceKeyRefused("bad_signature") from None


def _read(body: DeviceKeyRegistration | DeviceKeySignIn, *names: str) -> list[bytes | str]:
    try:
        values: list[bytes | str] = []
        for name in names:
            raw = getattr(body, name)
            values.append(str(raw) if name in ("challenge", "key_id") else _unb64url(raw))
        return values
    except (TypeError, ValueError, binascii.Error):
        raise DeviceKeyRefused("malformed") from None


async def _take(challenge: str, purpose: str, user: User | None, invite: Invite | None) -> None:
    reason = await consume_challenge(challenge, purpose, user, invite)
    if reason is not None:
        raise DeviceKeyRefused(reason)


async def verify_registration(
    user: User,
    invite: Invite,
    body: DeviceKeyRegistration,
    device_id: uuid.UUID | None,
    settings: Settings,
) -> bytes:
    """Check a new key's proof of possession; returns its SPKI bytes. Writes nothing but the
    challenge's use (single use, even when the proof fails)."""
    public_key, challenge, signature = _read(body, "public_key", "challenge", "signature")
    assert isinstance(challenge, str) and isinstance(public_key, bytes)
    assert isinstance(signature, bytes)
    await _take(challenge, REGISTER, user, invite)
    if device_id is None:
        raise DeviceKeyRefused("no_device")
    if not allowed(user, settings):
        raise DeviceKeyRefused("role_not_allowed")
    key = _public_key(public_key)
    _verify(key, signature, signed_message(REGISTER, settings.origin, device_id, challenge))
    return public_key


async def store(user: User, device: Device, public_key: bytes) -> DeviceKey:
    """Keep the device's new key; one live key per device, so an older one is revoked."""
    now = datetime.now(UTC)
    await DeviceKey.filter(device_id=device.id, revoked_at=None).update(revoked_at=now)
    return await DeviceKey.create(user=user, device=device, public_key=public_key)


async def authenticate(
    body: DeviceKeySignIn, device_id: uuid.UUID | None, settings: Settings
) -> tuple[DeviceKey | None, DeviceKeyRefused | None]:
    """Verify a sign-in. Returns (key, None) or (key-if-known, refusal), like
    ``passkeys.authenticate``: the caller audits the refusal against the known user."""
    try:
        key_id, challenge, signature = _read(body, "key_id", "challenge", "signature")
        assert isinstance(key_id, str) and isinstance(challenge, str)
        assert isinstance(signature, bytes)
        stored = await DeviceKey.get_or_none(id=uuid.UUID(key_id)).select_related("user", "device")
    except ValueError:
        return None, DeviceKeyRefused("malformed")
    except DeviceKeyRefused as refused:
        return None, refused
    try:
        await _take(challenge, LOGIN, None, None)
        if stored is None:
            raise DeviceKeyRefused("unknown_key")
        if device_id is None:
            raise DeviceKeyRefused("no_device")
        if stored.device_id != device_id:  # type: ignore[attr-defined]
            raise DeviceKeyRefused("wrong_device")
        _verify(
            _public_key(bytes(stored.public_key)),
            signature,
            signed_message(LOGIN, settings.origin, device_id, challenge),
        )
        # After the signature: only the key's holder learns that it was revoked.
        if stored.revoked_at is not None or stored.device.revoked_at is not None:
            raise DeviceKeyRefused("key_revoked")
        if not stored.user.is_active:
            raise DeviceKeyRefused("user_inactive")
        if not allowed(stored.user, settings):
            raise DeviceKeyRefused("role_not_allowed")
    except DeviceKeyRefused as refused:
        return stored, refused
    now = datetime.now(UTC)
    await DeviceKey.filter(id=stored.id).update(last_used_at=now)
    stored.last_used_at = now
    return stored, None


async def revoke_for_device(device: Device) -> list[str]:
    """Revoke the device's live keys (the device was signed out); returns their ids."""
    ids = [
        str(i)
        for i in await DeviceKey.filter(device_id=device.id, revoked_at=None).values_list(
            "id", flat=True
        )
    ]
    if ids:
        await DeviceKey.filter(device_id=device.id, revoked_at=None).update(
            revoked_at=datetime.now(UTC)
        )
    return ids


async def devices_with_keys(device_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these devices sign in with a device key (for the devices pages)."""
    if not device_ids:
        return set()
    rows = await DeviceKey.filter(device_id__in=device_ids).values_list("device_id", flat=True)
    return {uuid.UUID(str(r)) for r in rows}
