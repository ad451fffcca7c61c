"""Sessions live in the database: timeouts, several processes, and cutting a device or a user off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from server.app import create_app
from server.auth.devices import deactivate_user, revoke_device
from server.auth.session import create_session
from server.settings import Settings
from sync.models import AuditEvent, Device, Invite, Role, Session
from tests import factories


async def test_an_idle_session_ends(client: httpx.AsyncClient, settings: Settings) -> None:
    user = await factories.user(Role.PEER_LEADER)
    await factories.sign_in(client, user, settings)
    assert (await client.get("/api/auth/me")).status_code == 200
    idle = datetime.now(UTC) - timedelta(minutes=settings.session_idle_minutes + 1)
    await Session.filter(user=user).update(last_seen_at=idle)
    assert (await client.get("/api/auth/me")).status_code == 401
    assert not await Session.filter(user=user).exists()


async def test_a_session_ends_at_its_absolute_limit_however_busy(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    await factories.sign_in(client, user, settings)
    await Session.filter(user=user).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_a_session_works_on_every_server_process(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await factories.user(Role.COORDINATOR)
    await factories.sign_in(client, user, settings)
    other_process = create_app(settings, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other_process),
        base_url="http://localhost:8000",
        cookies=client.cookies,
    ) as other:
        response = await other.get("/api/auth/me")
    assert response.status_code == 200 and response.json()["user"] == str(user.id)


async def test_a_revoked_device_is_refused_at_once_with_or_without_its_header(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await factories.user(Role.ADMIN)
    user = await factories.user(Role.PEER_LEADER)
    device = await factories.device(user)
    await factories.sign_in(client, user, settings, device_id=device.id)
    assert (await client.get("/api/auth/me")).status_code == 200
    await revoke_device(device, admin)
    assert not await Session.filter(device_id=device.id).exists()
    refused = await client.get("/api/sync/pull")
    assert refused.status_code == 403 and refused.json()["error"] == "device_revoked"
    del client.headers["x-peerlog-device"]
    assert (await client.get("/api/auth/me")).status_code == 401  # its session is gone
    audit = await AuditEvent.get(action="device.revoked")
    assert audit.record_id == str(device.id) and audit.actor_id == admin.id  # type: ignore[attr-defined]


async def test_a_session_bound_to_a_revoked_device_is_refused_without_the_header(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    device = await factories.device(user)
    await factories.sign_in(client, user, settings, device_id=device.id)
    del client.headers["x-peerlog-device"]
    # Revoked behind the app's back (another process, mid-request): the session still names it.
    await Device.filter(id=device.id).update(revoked_at=datetime.now(UTC))
    response = await client.get("/api/auth/me")
    assert response.status_code == 403 and response.json()["error"] == "device_revoked"
    assert not await Session.filter(device_id=device.id).exists()


async def test_a_user_revokes_their_own_lost_phone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    lost = await factories.device(user)
    here = await factories.device(user)
    await create_session(user, settings, device_id=lost.id)
    await factories.sign_in(client, user, settings, device_id=here.id)
    listed = (await client.get("/api/auth/devices")).json()["devices"]
    assert {d["id"]: d["current"] for d in listed} == {str(lost.id): False, str(here.id): True}
    response = await client.post(f"/api/auth/devices/{lost.id}/revoke", json={})
    assert response.status_code == 200
    assert (await Device.get(id=lost.id)).revoked_at is not None
    assert not await Session.filter(device_id=lost.id).exists()
    stranger = await factories.device(await factories.user(Role.PEER_LEADER))
    response = await client.post(f"/api/auth/devices/{stranger.id}/revoke", json={})
    assert response.status_code == 404


async def test_deactivating_a_user_ends_sessions_invites_and_devices(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from server.auth.invites import create_invite

    admin = await factories.user(Role.ADMIN)
    user = await factories.user(Role.VOLUNTEER)
    device = await factories.device(user)
    invite = await create_invite(user, settings)
    await factories.sign_in(client, user, settings, device_id=device.id)
    await deactivate_user(user, admin)
    assert not await Session.filter(user=user).exists()
    assert (await Invite.get(id=invite.id)).revoked_at is not None
    response = await client.get("/api/auth/me")
    assert response.status_code == 403 and response.json()["error"] == "device_revoked"
    assert await AuditEvent.exists(action="user.deactivated", record_id=str(user.id))


async def test_signing_in_on_a_device_of_someone_else_is_refused_clearly(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from server.auth.devices import DeviceInUse, bind_device

    owner = await factories.user(Role.PEER_LEADER)
    device = await factories.device(owner)
    other = await factories.user(Role.PEER_LEADER)
    try:
        await bind_device(other, device.id, "")
    except DeviceInUse as exc:
        assert "another person" in exc.detail
    else:
        raise AssertionError("a device id must stay with its owner")
    fresh = await bind_device(other, uuid.uuid4(), "Mozilla/5.0 (iPhone) Safari/605")
    assert fresh is not None and fresh.label == "iPhone · Safari"


async def test_a_signed_in_device_is_marked_as_seen(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    device = await factories.device(user)
    await factories.sign_in(client, user, settings, device_id=device.id)
    assert (await client.get("/api/auth/me")).status_code == 200
    seen = (await Device.get(id=device.id)).last_seen_at
    assert seen is not None and datetime.now(UTC) - seen < timedelta(minutes=1)


async def test_staff_sessions_end_sooner_than_a_peer_leaders(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Coordinators and administrators see a community or more: 12 hours idle and 7 days in all
    by default (settings), against a peer leader's 14 and 90 days."""
    assert settings.staff_session_idle_minutes == 12 * 60
    assert settings.staff_session_absolute_minutes == 7 * 24 * 60
    leader = await factories.user(Role.PEER_LEADER)
    await create_session(leader, settings)
    [peer] = await Session.filter(user=leader)
    assert peer.expires_at - peer.last_seen_at == timedelta(days=90)
    for role in (Role.COORDINATOR, Role.ADMIN):
        staff = await factories.user(role)
        client.cookies.clear()
        await factories.sign_in(client, staff, settings)
        [session] = await Session.filter(user=staff)
        assert session.expires_at - session.last_seen_at == timedelta(days=7), role
        # Idle for 13 hours: a peer leader would still be signed in, staff are not.
        await Session.filter(user=staff).update(
            last_seen_at=datetime.now(UTC) - timedelta(hours=13)
        )
        assert (await client.get("/api/auth/me")).status_code == 401, role
    client.cookies.clear()
    await factories.sign_in(client, leader, settings)
    await Session.filter(user=leader).update(last_seen_at=datetime.now(UTC) - timedelta(hours=13))
    assert (await client.get("/api/auth/me")).status_code == 200


async def test_a_user_made_staff_keeps_their_session_no_longer_than_staff(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    await factories.sign_in(client, user, settings)
    await Session.filter(user=user).update(created_at=datetime.now(UTC) - timedelta(days=8))
    assert (await client.get("/api/auth/me")).status_code == 200
    user.role = Role.COORDINATOR
    await user.save()
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_the_staff_session_cookie_lasts_as_long_as_the_session(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from server.auth.session import session_cookie

    assert session_cookie("t", settings, Role.ADMIN).max_age == 7 * 24 * 3600
    assert session_cookie("t", settings, Role.PEER_LEADER).max_age == 90 * 24 * 3600
