"""Passkey ceremonies over HTTP against a software authenticator: py_webauthn verifies for real.

The authenticator below makes "none" attestations and ES256 assertions with ``cryptography``, so
each refusal (replayed challenge, wrong origin or RP ID, counter going backwards, a used or
expired invite) is produced by a genuinely signed response, not by mocking the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from server.auth.invites import create_invite
from server.settings import Settings
from sync.models import AuditEvent, Credential, Device, Invite, Role, Session, User
from tests import factories


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """A platform authenticator with user verification, in Python."""

    rp_id: str
    origin: str
    backup_eligible: bool = False
    backed_up: bool = False
    counter: int = 0
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    user_handle: bytes = b""
    user_verified: bool = True

    def _flags(self, *, attested: bool) -> int:
        flags = 0x01 | (0x04 if self.user_verified else 0)  # user present, user verified
        if self.backup_eligible:
            flags |= 0x08
        if self.backed_up:
            flags |= 0x10
        if attested:
            flags |= 0x40
        return flags

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        ).encode()

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None
    ) -> dict[str, Any]:
        self.user_handle = unb64url(options["user"]["id"])
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        auth_data = (
            rp_hash
            + bytes([self._flags(attested=True)])
            + self.counter.to_bytes(4, "big")
            + bytes(16)
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._cose_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        counter: int | None = None,
    ) -> dict[str, Any]:
        if counter is None:
            self.counter += 1
            counter = self.counter
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        auth_data = rp_hash + bytes([self._flags(attested=False)]) + counter.to_bytes(4, "big")
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }


async def csrf(client: httpx.AsyncClient) -> None:
    """Hold a CSRF token as the browser does after its first page load."""
    await client.get("/signin")
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]


async def invited(settings: Settings, role: Role = Role.PEER_LEADER) -> tuple[User, Invite]:
    user = await factories.user(role)
    return user, await create_invite(user, settings)


async def enrol(
    client: httpx.AsyncClient, settings: Settings, device_id: uuid.UUID | None = None
) -> tuple[User, SoftAuthenticator]:
    """Invite a new user and register a software passkey for them; the client is signed in."""
    await csrf(client)
    user, invite = await invited(settings)
    authenticator = SoftAuthenticator(settings.rp_id, settings.origin)
    headers = {"x-peerlog-device": str(device_id)} if device_id else {}
    options = (await client.post(f"/api/auth/invites/{invite.code}/options", json={})).json()
    response = await client.post(
        f"/api/auth/invites/{invite.code}/register",
        json=authenticator.create(options),
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return user, authenticator


async def login_options(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/auth/login/options", json={})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def audited(action: str, **detail: Any) -> list[AuditEvent]:
    events = await AuditEvent.filter(action=action).order_by("id")
    return [e for e in events if all(e.detail.get(k) == v for k, v in detail.items())]


# --- the happy paths ----------------------------------------------------------------------------


async def test_an_invite_registers_a_passkey_and_signs_the_user_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    user, invite = await invited(settings)
    authenticator = SoftAuthenticator(settings.rp_id, settings.origin)
    options = (await client.post(f"/api/auth/invites/{invite.code}/options", json={})).json()
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    device_id = uuid.uuid4()
    response = await client.post(
        f"/api/auth/invites/{invite.code}/register",
        json=authenticator.create(options),
        headers={
            "x-peerlog-device": str(device_id),
            "user-agent": "Mozilla/5.0 (Linux; Android 14) Mobile Chrome/130",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"] == str(user.id) and response.json()["role"] == "peer_leader"
    assert (await Invite.get(id=invite.id)).used_at is not None
    credential = await Credential.get(user=user)
    assert credential.credential_id == b64url(authenticator.credential_id)
    assert credential.backup_eligible is False and credential.sign_count == 0
    session = await Session.get(user=user)
    assert session.device_id == device_id  # type: ignore[attr-defined]
    device = await Device.get(id=device_id)
    assert device.label == "Android phone · Chrome" and device.last_seen_at is not None
    me = (await client.get("/api/auth/me")).json()
    assert me["user"] == str(user.id) and me["display_name"] == user.display_name
    assert await audited("invite.used") and await audited("passkey.added")
    assert await audited("signin.success", how="invite")


async def test_a_passkey_signs_in_with_an_empty_allow_list_and_a_fresh_session_id(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, authenticator = await enrol(client, settings)
    first_cookie = client.cookies["peerlog_session"]
    options = await login_options(client)
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    response = await client.post("/api/auth/login", json=authenticator.get(options))
    assert response.status_code == 200, response.text
    assert response.json()["user"] == str(user.id)
    assert client.cookies["peerlog_session"] != first_cookie
    assert await Session.filter(user=user).count() == 1  # the old session ended
    assert (await Credential.get(user=user)).sign_count == 1
    assert (await client.post("/api/auth/logout", json={})).status_code == 200
    assert (await client.get("/api/auth/me")).status_code == 401
    assert await Session.filter(user=user).count() == 0


async def test_backup_flags_are_stored_and_updated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    user, invite = await invited(settings)
    authenticator = SoftAuthenticator(settings.rp_id, settings.origin, backup_eligible=True)
    options = (await client.post(f"/api/auth/invites/{invite.code}/options", json={})).json()
    assert (
        await client.post(
            f"/api/auth/invites/{invite.code}/register", json=authenticator.create(options)
        )
    ).status_code == 200
    stored = await Credential.get(user=user)
    assert (stored.backup_eligible, stored.backed_up) == (True, False)
    authenticator.backed_up = True
    response = await client.post(
        "/api/auth/login", json=authenticator.get(await login_options(client))
    )
    assert response.status_code == 200, response.text
    assert (await Credential.get(user=user)).backed_up is True


# --- refusals: each is clear and audited --------------------------------------------------------


async def test_a_replayed_challenge_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, authenticator = await enrol(client, settings)
    options = await login_options(client)
    assertion = authenticator.get(options)
    assert (await client.post("/api/auth/login", json=assertion)).status_code == 200
    again = authenticator.get(options)  # same challenge, a higher counter: only the replay is wrong
    response = await client.post("/api/auth/login", json=again)
    assert response.status_code == 400
    assert response.json()["error"] == "replayed"
    assert "already used" in response.json()["message"]
    assert await audited("signin.failure", reason="replayed")


async def test_an_expired_challenge_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from sync.models import Challenge

    _, authenticator = await enrol(client, settings)
    options = await login_options(client)
    await Challenge.filter(challenge=options["challenge"]).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    response = await client.post("/api/auth/login", json=authenticator.get(options))
    assert response.status_code == 400 and response.json()["error"] == "expired_challenge"
    assert await audited("signin.failure", reason="expired_challenge")


async def test_a_response_for_another_origin_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, authenticator = await enrol(client, settings)
    options = await login_options(client)
    response = await client.post(
        "/api/auth/login", json=authenticator.get(options, origin="https://evil.example")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "wrong_origin"
    assert "different web address" in response.json()["message"]
    events = await audited("signin.failure", reason="wrong_origin")
    assert events and events[0].actor_id == user.id  # type: ignore[attr-defined]


async def test_a_response_for_another_rp_id_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, authenticator = await enrol(client, settings)
    options = await login_options(client)
    response = await client.post(
        "/api/auth/login", json=authenticator.get(options, rp_id="evil.example")
    )
    assert response.status_code == 400 and response.json()["error"] == "wrong_rp_id"
    assert await audited("signin.failure", reason="wrong_rp_id")


async def test_registration_for_another_origin_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    user, invite = await invited(settings)
    authenticator = SoftAuthenticator(settings.rp_id, settings.origin)
    options = (await client.post(f"/api/auth/invites/{invite.code}/options", json={})).json()
    response = await client.post(
        f"/api/auth/invites/{invite.code}/register",
        json=authenticator.create(options, origin="http://localhost:9999"),
    )
    assert response.status_code == 400 and response.json()["error"] == "wrong_origin"
    assert (await Invite.get(id=invite.id)).used_at is None  # the invite still works
    assert not await Credential.filter(user=user).exists()
    assert await audited("signin.failure", reason="wrong_origin")


async def test_a_counter_going_backwards_is_refused_and_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, authenticator = await enrol(client, settings)
    for _ in range(3):
        ok = await client.post(
            "/api/auth/login", json=authenticator.get(await login_options(client))
        )
        assert ok.status_code == 200
    response = await client.post(
        "/api/auth/login", json=authenticator.get(await login_options(client), counter=2)
    )
    assert response.status_code == 400 and response.json()["error"] == "counter_regression"
    assert "counter went backwards" in response.json()["message"]
    assert (await Credential.get(user=user)).sign_count == 3
    assert await audited("passkey.counter_regression")
    assert await audited("signin.failure", reason="counter_regression")


async def test_a_counter_that_stays_at_zero_is_fine(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, authenticator = await enrol(client, settings)
    for _ in range(2):
        response = await client.post(
            "/api/auth/login", json=authenticator.get(await login_options(client), counter=0)
        )
        assert response.status_code == 200, response.text


async def test_a_used_invite_is_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    await csrf(client)
    _, invite = await invited(settings)
    authenticator = SoftAuthenticator(settings.rp_id, settings.origin)
    options = (await client.post(f"/api/auth/invites/{invite.code}/options", json={})).json()
    await client.post(
        f"/api/auth/invites/{invite.code}/register", json=authenticator.create(options)
    )
    response = await client.post(f"/api/auth/invites/{invite.code}/options", json={})
    assert response.status_code == 410 and response.json()["error"] == "invite_used"
    assert "already been used" in response.json()["message"]
    assert await audited("invite.refused", reason="used")
    page = await client.get(f"/invite/{invite.code}", headers={"accept-language": "en"})
    assert page.status_code == 410 and "already been used" in page.text
    chinese = await client.get(f"/invite/{invite.code}")
    assert "此邀请已被使用" in chinese.text
    assert "coordinator" in page.text


async def test_an_expired_invite_is_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    await csrf(client)
    _, invite = await invited(settings)
    await Invite.filter(id=invite.id).update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    response = await client.post(f"/api/auth/invites/{invite.code}/options", json={})
    assert response.status_code == 410 and response.json()["error"] == "invite_expired"
    assert "expired" in response.json()["message"]
    assert await audited("invite.refused", reason="expired")
    page = await client.get(f"/invite/{invite.code.lower()}", headers={"accept-language": "en"})
    assert page.status_code == 410 and "This invite has expired" in page.text


async def test_an_invite_expiring_between_options_and_register_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    user, invite = await invited(settings)
    authenticator = SoftAuthenticator(settings.rp_id, settings.origin)
    options = (await client.post(f"/api/auth/invites/{invite.code}/options", json={})).json()
    await Invite.filter(id=invite.id).update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    response = await client.post(
        f"/api/auth/invites/{invite.code}/register", json=authenticator.create(options)
    )
    assert response.status_code == 410 and response.json()["error"] == "invite_expired"
    assert not await Credential.filter(user=user).exists()


async def test_unknown_and_revoked_invites_say_which(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    user, first = await invited(settings)
    await create_invite(user, settings)  # a new invite withdraws the first
    page = await client.get(f"/invite/{first.code}", headers={"accept-language": "en"})
    assert page.status_code == 410 and "withdrawn" in page.text
    page = await client.get("/invite/ZZZZ-ZZZZ", headers={"accept-language": "en"})
    assert page.status_code == 404 and "not known" in page.text
    typed = await client.get("/invite", params={"code": " k7p2 9qxd "})
    assert typed.status_code in (302, 303) and typed.headers["location"] == "/invite/K7P2-9QXD"


async def test_a_deactivated_users_invite_and_passkey_stop_working(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from server.auth.devices import deactivate_user

    admin = await factories.user(Role.ADMIN)
    user, authenticator = await enrol(client, settings)
    await deactivate_user(user, admin)
    assert (await client.get("/api/auth/me")).status_code == 401
    response = await client.post(
        "/api/auth/login", json=authenticator.get(await login_options(client))
    )
    assert response.status_code == 400 and response.json()["error"] == "user_inactive"
    invite = await create_invite(await User.get(id=user.id), settings)
    refused = await client.post(f"/api/auth/invites/{invite.code}/options", json={})
    assert refused.status_code == 410 and refused.json()["error"] == "invite_inactive"


async def test_sign_in_is_rate_limited_with_retry_after(
    client: httpx.AsyncClient, settings: Settings, app: Any
) -> None:
    import dataclasses

    app.state.settings = dataclasses.replace(settings, rate_limit_per_minute=3)
    await csrf(client)
    statuses = [
        (await client.post("/api/auth/login/options", json={})).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = await client.post("/api/auth/login/options", json={})
    assert limited.json()["error"] == "rate_limited"
    assert "Too many attempts" in limited.json()["message"]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # The invite endpoints count separately from sign-in.
    assert (await client.post("/api/auth/invites/ZZZZ-ZZZZ/options", json={})).status_code == 404


# --- more passkeys on one account ---------------------------------------------------------------


async def test_a_second_passkey_can_be_added_renamed_and_one_removed_but_never_the_last(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user, _ = await enrol(client, settings)
    second = SoftAuthenticator(settings.rp_id, settings.origin)
    options = (await client.post("/api/auth/passkeys/options", json={})).json()
    assert len(options["excludeCredentials"]) == 1
    added = await client.post(
        "/api/auth/passkeys", json={"name": "Office computer", "credential": second.create(options)}
    )
    assert added.status_code == 201, added.text
    listing = (await client.get("/api/auth/passkeys")).json()["passkeys"]
    assert [p["name"] for p in listing][1] == "Office computer"
    renamed = await client.patch(f"/api/auth/passkeys/{listing[1]['id']}", json={"name": "Desk"})
    assert renamed.json()["name"] == "Desk"
    assert (await client.delete(f"/api/auth/passkeys/{listing[0]['id']}")).status_code == 200
    last = await client.delete(f"/api/auth/passkeys/{listing[1]['id']}")
    assert last.status_code == 409 and last.json()["error"] == "last_passkey"
    assert "only passkey" in last.json()["message"]
    assert await Credential.filter(user=user).count() == 1
    assert await audited("passkey.removed")
    # The second passkey signs in.
    response = await client.post("/api/auth/login", json=second.get(await login_options(client)))
    assert response.status_code == 200, response.text


async def test_the_sign_in_page_speaks_chinese_by_default_and_english_on_request(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/signin")
    assert "用通行密钥登录" in page.text and "我有邀请码" in page.text
    english = await client.get("/signin", headers={"accept-language": "en"})
    assert "Sign in with my passkey" in english.text
    assert '<script type="module" src="/static/js/auth.js' in page.text
    assert (
        "<script>" not in page.text and " style=" not in page.text and " onclick" not in page.text
    )


async def test_an_anonymous_api_call_still_hands_out_the_csrf_cookie(
    client: httpx.AsyncClient,
) -> None:
    """auth.js relies on this when the sign-in page came from the service worker's cache."""
    response = await client.get("/api/auth/me")
    assert response.status_code == 401 and "csrftoken" in response.cookies


async def test_revoking_a_lost_phone_removes_the_passkey_used_only_there(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from server.auth.devices import revoke_device

    admin = await factories.user(Role.ADMIN)
    lost_phone = uuid.uuid4()
    user, authenticator = await enrol(client, settings, device_id=lost_phone)
    await revoke_device(await Device.get(id=lost_phone), admin)
    assert not await Credential.filter(user=user).exists()
    assert await audited("passkey.removed", reason="device_revoked")
    # Whoever holds the phone cannot come back as a "new device".
    response = await client.post(
        "/api/auth/login",
        json=authenticator.get(await login_options(client)),
        headers={"x-peerlog-device": str(uuid.uuid4())},
    )
    assert response.status_code == 400 and response.json()["error"] == "unknown_passkey"


async def test_revoking_one_device_keeps_a_synced_passkey_used_on_another(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from server.auth.devices import revoke_device

    admin = await factories.user(Role.ADMIN)
    phone, tablet = uuid.uuid4(), uuid.uuid4()
    user, authenticator = await enrol(client, settings, device_id=phone)
    again = await client.post(
        "/api/auth/login",
        json=authenticator.get(await login_options(client)),
        headers={"x-peerlog-device": str(tablet)},
    )
    assert again.status_code == 200, again.text
    await revoke_device(await Device.get(id=phone), admin)
    assert await Credential.filter(user=user).count() == 1


async def test_registration_for_another_rp_id_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await csrf(client)
    _, invite = await invited(settings)
    authenticator = SoftAuthenticator(settings.rp_id, settings.origin)
    options = (await client.post(f"/api/auth/invites/{invite.code}/options", json={})).json()
    response = await client.post(
        f"/api/auth/invites/{invite.code}/register",
        json=authenticator.create(options, rp_id="evil.example"),
    )
    assert response.status_code == 400 and response.json()["error"] == "wrong_rp_id"
    assert await audited("signin.failure", reason="wrong_rp_id")


async def test_a_passkey_without_user_verification_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Presence alone (a tap) is not enough: the phone's screen lock must confirm the person."""
    _, authenticator = await enrol(client, settings)
    authenticator.user_verified = False
    response = await client.post(
        "/api/auth/login", json=authenticator.get(await login_options(client))
    )
    assert response.status_code == 400 and response.json()["error"] == "not_verified"
    assert await audited("signin.failure", reason="not_verified")


async def test_rate_limits_are_shared_by_every_server_process(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    import dataclasses

    from server.app import create_app

    strict = dataclasses.replace(settings, rate_limit_per_minute=2)
    apps = [create_app(strict, manage_database=False) for _ in range(2)]
    statuses = []
    for n in range(3):
        transport = httpx.ASGITransport(app=apps[n % 2])
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
            await c.get("/signin")
            c.headers["x-csrftoken"] = c.cookies["csrftoken"]
            statuses.append((await c.post("/api/auth/login/options", json={})).status_code)
    assert statuses == [200, 200, 429]
