"""Device keys over HTTP (SPEC 5): a phone that cannot make a passkey registers a P-256 key
through its invite and signs single-use challenges with it. The key here is made with
``cryptography`` and signs exactly as WebCrypto does (r‖s), so every refusal below comes from a
genuinely signed request, not from a mocked verifier."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from server.auth import ratelimit
from server.auth.device_keys import signed_message
from server.auth.devices import revoke_device
from server.auth.invites import create_invite
from server.settings import Settings
from sync.models import AuditEvent, Challenge, Device, DeviceKey, Invite, Role, Session, User
from tests import factories
from tests.integration.test_auth_passkeys import b64url, csrf


@dataclass
class Phone:
    """A phone's WebCrypto key and device id."""

    settings: Settings
    device_id: uuid.UUID = field(default_factory=uuid.uuid4)
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    key_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"x-peerlog-device": str(self.device_id)}

    def sign(self, purpose: str, challenge: str, device_id: uuid.UUID | None = None) -> str:
        message = signed_message(
            purpose, self.settings.origin, device_id or self.device_id, challenge
        )
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        size = (self.key.curve.key_size + 7) // 8
        return b64url(r.to_bytes(size, "big") + s.to_bytes(size, "big"))

    def spki(self) -> str:
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


async def register(
    client: httpx.AsyncClient, phone: Phone, invite: Invite, signer: Phone | None = None
) -> httpx.Response:
    base = f"/api/auth/invites/{invite.code}/device-key"
    options = await client.post(f"{base}/options", json={}, headers=phone.headers)
    assert options.status_code == 200, options.text
    challenge = options.json()["challenge"]
    body = {
        "public_key": phone.spki(),
        "challenge": challenge,
        "signature": (signer or phone).sign("key_register", challenge, phone.device_id),
    }
    response = await client.post(base, json=body, headers=phone.headers)
    if response.status_code == 200:
        phone.key_id = response.json()["device_key"]
    return response


async def enrolled(
    client: httpx.AsyncClient, settings: Settings, role: Role = Role.PEER_LEADER
) -> tuple[User, Phone]:
    await csrf(client)
    user = await factories.user(role)
    phone = Phone(settings)
    response = await register(client, phone, await create_invite(user, settings))
    assert response.status_code == 200, response.text
    return user, phone


async def login_body(client: httpx.AsyncClient, phone: Phone, **changes: Any) -> dict[str, Any]:
    options = await client.post("/api/auth/device-key/options", json={}, headers=phone.headers)
    assert options.status_code == 200, options.text
    challenge = options.json()["challenge"]
    body = {"key_id": phone.key_id, "challenge": challenge}
    body["signature"] = phone.sign("key_login", challenge)
    return {**body, **changes}


async def login(
    client: httpx.AsyncClient, body: dict[str, Any], phone: Phone, headers: Any = None
) -> httpx.Response:
    return await client.post(
        "/api/auth/device-key/login", json=body, headers=headers or phone.headers
    )


async def failures(reason: str) -> list[AuditEvent]:
    return [
        e
        for e in await AuditEvent.filter(action="signin.failure").order_by("id")
        if e.detail.get("reason") == reason and e.detail.get("how") == "device_key"
    ]


# --- the happy path -----------------------------------------------------------------------------


async def test_an_invite_registers_a_device_key_bound_to_the_device_and_it_signs_in_again(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, phone = await enrolled(client, settings)
    key = await DeviceKey.get(id=phone.key_id)
    assert key.device_id == phone.device_id and key.user_id == user.id  # type: ignore[attr-defined]
    assert (await Invite.get(user=user)).used_at is not None
    assert await Device.exists(id=phone.device_id, user=user)
    assert await AuditEvent.exists(action="device_key.added", record_id=phone.key_id)
    assert await AuditEvent.exists(action="signin.success", record_id=phone.key_id)
    assert (await client.post("/api/auth/logout", json={})).status_code == 200
    assert (await client.get("/api/auth/me")).status_code == 401

    response = await login(client, await login_body(client, phone), phone)
    assert response.status_code == 200, response.text
    assert response.json()["user"] == str(user.id) and response.json()["role"] == "peer_leader"
    me = (await client.get("/api/auth/me", headers=phone.headers)).json()
    assert me["device_id"] == str(phone.device_id)
    assert (await DeviceKey.get(id=phone.key_id)).last_used_at is not None
    events = await AuditEvent.filter(action="signin.success", record_id=phone.key_id)
    assert [e.detail["how"] for e in events] == ["invite", "device_key"]
    assert all(e.entity == "device_key" for e in events)


# --- refusals, each audited ---------------------------------------------------------------------


async def test_a_replayed_challenge_is_refused_and_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, phone = await enrolled(client, settings)
    body = await login_body(client, phone)
    assert (await login(client, body, phone)).status_code == 200
    again = await login(client, body, phone)
    assert again.status_code == 400 and again.json()["error"] == "replayed"
    assert len(await failures("replayed")) == 1


async def test_a_signature_from_another_key_is_refused_and_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, phone = await enrolled(client, settings)
    body = await login_body(client, phone)
    thief = Phone(settings, device_id=phone.device_id)  # knows the ids, not the private key
    body["signature"] = thief.sign("key_login", body["challenge"])
    response = await login(client, body, phone)
    assert response.status_code == 400 and response.json()["error"] == "bad_signature"
    [event] = await failures("bad_signature")
    assert event.actor_id == user.id and event.record_id == phone.key_id  # type: ignore[attr-defined]


async def test_a_key_presented_by_another_device_is_refused_and_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, phone = await enrolled(client, settings)
    _, other = await enrolled(client, settings)
    # The other phone names the first phone's key, signing as itself with that key's holder's
    # signature for its own device id: the key is bound to the first device, so it is refused.
    body = await login_body(client, other, key_id=phone.key_id)
    body["signature"] = phone.sign("key_login", body["challenge"], other.device_id)
    response = await login(client, body, other)
    assert response.status_code == 400 and response.json()["error"] == "wrong_device"
    [event] = await failures("wrong_device")
    assert event.record_id == phone.key_id
    # A signature made for another device id does not answer for this one either.
    await client.post("/api/auth/logout", json={})
    body = await login_body(client, phone)
    body["signature"] = phone.sign("key_login", body["challenge"], other.device_id)
    response = await login(client, body, phone)
    assert response.status_code == 400 and response.json()["error"] == "bad_signature"


async def test_an_expired_challenge_is_refused_and_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, phone = await enrolled(client, settings)
    body = await login_body(client, phone)
    await Challenge.filter(challenge=body["challenge"]).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    response = await login(client, body, phone)
    assert response.status_code == 400 and response.json()["error"] == "expired_challenge"
    assert len(await failures("expired_challenge")) == 1


async def test_a_challenge_made_for_a_passkey_or_a_registration_does_not_sign_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, phone = await enrolled(client, settings)
    passkey_options = (await client.post("/api/auth/login/options", json={})).json()
    body = await login_body(client, phone, challenge=passkey_options["challenge"])
    body["signature"] = phone.sign("key_login", passkey_options["challenge"])
    response = await login(client, body, phone)
    assert response.status_code == 400 and response.json()["error"] == "unknown_challenge"
    assert len(await failures("unknown_challenge")) == 1


async def test_staff_are_refused_a_device_key_with_a_clear_message(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    coordinator = await factories.user(Role.COORDINATOR)
    invite = await create_invite(coordinator, settings)
    phone = Phone(settings)
    response = await client.post(
        f"/api/auth/invites/{invite.code}/device-key/options", json={}, headers=phone.headers
    )
    assert response.status_code == 403 and response.json()["error"] == "role_not_allowed"
    assert "passkey" in response.json()["message"]
    assert len(await failures("role_not_allowed")) == 1
    # The invite is still usable (for a passkey on another phone or computer).
    assert (await Invite.get(id=invite.id)).used_at is None
    assert not await DeviceKey.exists(user=coordinator)


async def test_the_setting_decides_which_roles_may_use_a_device_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from server.app import create_app

    only_volunteers = Settings(**{**settings.__dict__, "device_key_roles": "volunteer"})
    app = create_app(only_volunteers, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000"
    ) as other:
        await csrf(other)
        leader = await factories.user(Role.PEER_LEADER)
        refused = await register_options(other, await create_invite(leader, settings))
        assert refused.status_code == 403
        volunteer = await factories.user(Role.VOLUNTEER)
        assert (await register_options(other, await create_invite(volunteer, settings))).is_success


async def register_options(client: httpx.AsyncClient, invite: Invite) -> httpx.Response:
    return await client.post(
        f"/api/auth/invites/{invite.code}/device-key/options",
        json={},
        headers={"x-peerlog-device": str(uuid.uuid4())},
    )


async def test_registration_needs_proof_of_the_private_key_and_a_p256_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    user = await factories.user(Role.VOLUNTEER)
    invite = await create_invite(user, settings)
    phone = Phone(settings)
    response = await register(client, phone, invite, signer=Phone(settings))
    assert response.status_code == 400 and response.json()["error"] == "bad_signature"
    other_curve = Phone(settings, key=ec.generate_private_key(ec.SECP384R1()))
    response = await register(client, other_curve, invite)
    assert response.status_code == 400 and response.json()["error"] == "bad_key"
    response = await client.post(
        f"/api/auth/invites/{invite.code}/device-key",
        json={"public_key": 12, "challenge": "x", "signature": "!!"},
        headers=phone.headers,
    )
    # The wrong type is refused before the handler, naming the field (never the value).
    assert response.status_code == 422 and response.json()["error"] == "invalid"
    assert response.json()["message"] == "public_key: expected str, got int"
    response = await client.post(
        f"/api/auth/invites/{invite.code}/device-key",
        json={"public_key": "A", "challenge": "x", "signature": "A"},  # not base64url
        headers=phone.headers,
    )
    assert response.status_code == 400 and response.json()["error"] == "malformed"
    assert not await DeviceKey.exists(user=user)
    assert (await Invite.get(id=invite.id)).used_at is None  # a failed proof uses nothing up
    assert (await register(client, phone, invite)).status_code == 200


async def test_a_revoked_device_s_key_no_longer_signs_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, phone = await enrolled(client, settings)
    admin = await factories.user(Role.ADMIN)
    body = await login_body(client, phone)  # a challenge fetched before the revocation
    await revoke_device(await Device.get(id=phone.device_id), admin)  # as the devices page does
    assert (await DeviceKey.get(id=phone.key_id)).revoked_at is not None
    assert await AuditEvent.exists(action="device_key.revoked", record_id=phone.key_id)
    assert not await Session.filter(user=user).exists()
    # The phone itself is told its device is revoked (and wipes itself) …
    response = await login(client, body, phone)
    assert response.status_code == 403 and response.json()["error"] == "device_revoked"
    # … and the key, presented from anywhere else, is refused too.
    body = await login_body(client, Phone(settings))
    body = {**body, "key_id": phone.key_id, "signature": phone.sign("key_login", body["challenge"])}
    response = await login(client, body, phone, headers={"x-peerlog-device": str(uuid.uuid4())})
    assert response.status_code == 400 and response.json()["error"] == "wrong_device"
    body = await login_body(client, Phone(settings))
    body = {**body, "key_id": phone.key_id, "signature": phone.sign("key_login", body["challenge"])}
    response = await client.post("/api/auth/device-key/login", json=body)
    assert response.status_code == 400 and response.json()["error"] == "no_device"


async def test_device_key_sign_in_is_rate_limited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    # The limit counts per clock minute: on a loaded machine 31 requests begun in a minute's last
    # seconds would be counted in two, so they begin in a fresh one.
    left = ratelimit.WINDOW_SECONDS - time.time() % ratelimit.WINDOW_SECONDS
    if left < 15:
        await asyncio.sleep(left + 0.1)
    codes = [
        (await client.post("/api/auth/device-key/options", json={})).status_code
        for _ in range(settings.rate_limit_per_minute + 1)
    ]
    assert codes[:-1] == [200] * settings.rate_limit_per_minute and codes[-1] == 429


async def test_the_devices_pages_show_which_devices_sign_in_with_a_device_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, phone = await enrolled(client, settings)
    own = (await client.get("/api/auth/devices", headers=phone.headers)).json()["devices"]
    assert [(d["id"], d["sign_in"]) for d in own] == [(str(phone.device_id), "device_key")]
    account = (await client.get("/account", headers=phone.headers)).text
    assert 'data-signin-kind="device_key"' in account
    await client.post("/api/auth/logout", json={})
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    for path in ("/admin/devices", f"/admin/users/{user.id}"):
        page = (await client.get(path, headers={"accept-language": "en"})).text
        assert 'data-signin-kind="device_key"' in page and "Device key" in page
    detail = (await client.get(f"/admin/users/{user.id}")).text
    assert "使用设备密钥登录" in detail


async def test_a_switched_off_account_s_key_no_longer_signs_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, phone = await enrolled(client, settings)
    await client.post("/api/auth/logout", json={})
    await User.filter(id=user.id).update(is_active=False)
    response = await login(client, await login_body(client, phone), phone)
    assert response.status_code == 400 and response.json()["error"] == "user_inactive"
    assert len(await failures("user_inactive")) == 1
