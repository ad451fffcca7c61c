"""The sign-in API's bodies and answers, as the phone's JS sends and reads them
(``pwa/static/js/auth.js``, ``devicekey.js``, ``account.js``). Handlers declare them, so
``/api/schema/openapi.json`` describes each one and Litestar refuses a body of the wrong shape
with a 422 naming the field (``server.errors``).

The WebAuthn shapes are the W3C's JSON forms (``PublicKeyCredential.toJSON()`` and the options
``parse…OptionsFromJSON`` reads); a field a browser adds that is not named here is ignored. A
field that may be absent is ``UNSET``, and then left out of the answer, as py_webauthn leaves it
out of its options.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

# --- WebAuthn: what the phone sends -------------------------------------------------------------


class AuthenticatorResponseJSON(Struct):
    """``response`` of a registration (``attestationObject``, ``transports``) or an assertion
    (``authenticatorData``, ``signature``, ``userHandle``); base64url strings."""

    clientDataJSON: str  # (the W3C's names, as the browser sends them)
    attestationObject: str | UnsetType = UNSET
    transports: list[str] | UnsetType = UNSET
    authenticatorData: str | UnsetType = UNSET
    signature: str | UnsetType = UNSET
    userHandle: str | UnsetType | None = UNSET
    publicKey: str | UnsetType | None = UNSET
    publicKeyAlgorithm: int | UnsetType = UNSET


class PasskeyCredential(Struct):
    """A passkey's answer to a ceremony: ``PublicKeyCredential.toJSON()``."""

    id: str
    response: AuthenticatorResponseJSON
    rawId: str | UnsetType = UNSET
    type: str = "public-key"
    authenticatorAttachment: str | UnsetType | None = UNSET
    clientExtensionResults: dict[str, Any] | UnsetType = UNSET

    def as_json(self) -> dict[str, Any]:
        """The plain JSON object py_webauthn verifies."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result


# --- WebAuthn: the options the server sends -----------------------------------------------------


class CredentialDescriptor(Struct):
    id: str
    type: str
    transports: list[str] | UnsetType = UNSET


class RelyingParty(Struct):
    name: str
    id: str | UnsetType = UNSET


class UserEntity(Struct):
    id: str
    name: str
    displayName: str


class CredentialParameter(Struct):
    type: str
    alg: int


class AuthenticatorSelection(Struct):
    authenticatorAttachment: str | UnsetType = UNSET
    residentKey: str | UnsetType = UNSET
    requireResidentKey: bool | UnsetType = UNSET
    userVerification: str | UnsetType = UNSET


class CreationOptions(Struct):
    """``PublicKeyCredentialCreationOptionsJSON``: making a passkey."""

    rp: RelyingParty
    user: UserEntity
    challenge: str
    pubKeyCredParams: list[CredentialParameter]
    timeout: int | UnsetType = UNSET
    excludeCredentials: list[CredentialDescriptor] | UnsetType = UNSET
    authenticatorSelection: AuthenticatorSelection | UnsetType = UNSET
    attestation: str | UnsetType = UNSET
    hints: list[str] | UnsetType = UNSET


class RequestOptions(Struct):
    """``PublicKeyCredentialRequestOptionsJSON``: signing in with a passkey."""

    challenge: str
    timeout: int | UnsetType = UNSET
    rpId: str | UnsetType = UNSET
    allowCredentials: list[CredentialDescriptor] | UnsetType = UNSET
    userVerification: str | UnsetType = UNSET


# --- device keys ---------------------------------------------------------------------------------


class DeviceKeyOptions(Struct):
    """A single-use challenge for the phone's key to sign; ``purpose`` is ``register`` or
    ``login``."""

    challenge: str
    purpose: str


class DeviceKeyRegistration(Struct):
    """A new device key: its SPKI public half and its signature (r‖s) of the challenge, both
    base64url."""

    public_key: str
    challenge: str
    signature: str


class DeviceKeySignIn(Struct):
    """Signing in with a device key: its id and its signature (r‖s, base64url) of the
    challenge."""

    key_id: str
    challenge: str
    signature: str


# --- who is signed in ----------------------------------------------------------------------------


class SignedIn(Struct):
    """Who signed in; ``device_key`` when it was with (or made) a device key."""

    user: str
    role: str
    display_name: str
    community_id: str | None
    committee_id: str | None
    device_key: str | UnsetType = UNSET


class Me(Struct):
    """The signed-in user, this device, and for a volunteer their community's peer leaders
    (id → name, SPEC 1); for everyone else in a community its active coordinators' names, the
    health centre staff the phone offers as a meeting's co-leader (SPEC 2)."""

    user: str
    role: str
    display_name: str
    community_id: str | None
    committee_id: str | None
    device_id: str | None
    peer_leaders: dict[str, str] | UnsetType = UNSET
    staff: list[str] | UnsetType = UNSET


class SignedOut(Struct):
    signed_out: bool


# --- the account: passkeys and devices ----------------------------------------------------------


class Passkey(Struct):
    id: str
    name: str
    created_at: str
    last_used_at: str | None
    backed_up: bool


class PasskeyList(Struct):
    passkeys: list[Passkey]


class NewPasskey(Struct):
    """Another passkey for the signed-in user: its name and its registration."""

    credential: PasskeyCredential
    name: str = ""


class PasskeyName(Struct):
    name: str = ""


class PasskeyRemoved(Struct):
    removed: str


class Device(Struct):
    id: str
    label: str | None
    sign_in: str
    created_at: str
    last_seen_at: str | None
    last_sync_at: str | None
    revoked_at: str | None
    current: bool


class DeviceList(Struct):
    devices: list[Device]


class DeviceRevoked(Struct):
    revoked: str
