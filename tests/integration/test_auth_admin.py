"""Staff pages for users, invites and devices: forms, scope, and cutting people off at once."""

from __future__ import annotations

import re

import httpx

from server.auth.session import create_session
from server.settings import Settings
from sync.models import AuditEvent, Device, Invite, Role, Session, User
from tests import factories

EN = {"accept-language": "en"}


async def staff_client(client: httpx.AsyncClient, settings: Settings, who: User) -> str:
    await factories.sign_in(client, who, settings)
    return client.headers.pop("x-csrftoken")  # forms send the token as a field, like a browser


async def test_an_admin_creates_a_user_and_an_invite_with_link_code_and_qr(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await factories.user(Role.ADMIN)
    community = await factories.community()
    token = await staff_client(client, settings, admin)
    page = await client.get("/admin/users", headers=EN)
    assert page.status_code == 200 and "Add a user" in page.text
    created = await client.post(
        "/admin/users",
        data={
            "_csrf_token": token,
            "display_name": "Li Mei",
            "username": "limei",
            "role": "peer_leader",
            "community": str(community.id),
        },
    )
    assert created.status_code == 303
    user = await User.get(username="limei")
    assert user.community_id == community.id  # type: ignore[attr-defined]
    assert created.headers["location"] == f"/admin/users/{user.id}?notice=created"
    made = await client.post(f"/admin/users/{user.id}/invite", data={"_csrf_token": token})
    assert made.status_code == 303
    detail = await client.get(made.headers["location"], headers=EN)
    invite = await Invite.get(user=user)
    assert invite.code in detail.text
    assert f"{settings.origin}/invite/{invite.code}" in detail.text
    assert "<svg" in detail.text and "A new invite was made" in detail.text
    assert " style=" not in detail.text and "<script>" not in detail.text  # the CSP allows it
    assert await AuditEvent.exists(action="invite.created", record_id=str(user.id))
    listing = await client.get("/admin/invites", headers=EN)
    assert invite.code in listing.text
    withdrawn = await client.post(
        f"/admin/users/{user.id}/invite/revoke?back=invites", data={"_csrf_token": token}
    )
    assert withdrawn.headers["location"] == "/admin/invites?notice=invite_revoked"
    assert (await Invite.get(id=invite.id)).revoked_at is not None


async def test_a_form_mistake_is_shown_on_the_form(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await factories.user(Role.ADMIN)
    token = await staff_client(client, settings, admin)
    response = await client.post(
        "/admin/users",
        data={"_csrf_token": token, "display_name": "X", "username": "x1", "role": "volunteer"},
        headers=EN,
    )
    assert response.status_code == 422
    assert "volunteer needs" in response.text or "community" in response.text
    assert not await User.exists(username="x1")


async def test_deactivating_from_the_page_ends_the_users_sessions_at_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await factories.user(Role.ADMIN)
    user = await factories.user(Role.PEER_LEADER)
    await create_session(user, settings)
    token = await staff_client(client, settings, admin)
    response = await client.post(f"/admin/users/{user.id}/deactivate", data={"_csrf_token": token})
    assert response.status_code == 303
    assert not await Session.filter(user=user).exists()
    assert (await User.get(id=user.id)).is_active is False
    detail = await client.get(f"/admin/users/{user.id}", headers=EN)
    assert "Switched off" in detail.text


async def test_the_devices_page_lists_and_revokes_devices(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await factories.user(Role.ADMIN)
    user = await factories.user(Role.PEER_LEADER)
    device = await factories.device(user, label="Android phone · Chrome")
    await create_session(user, settings, device_id=device.id)
    token = await staff_client(client, settings, admin)
    page = await client.get("/admin/devices", headers=EN)
    assert "Android phone · Chrome" in page.text and user.display_name in page.text
    response = await client.post(f"/admin/devices/{device.id}/revoke", data={"_csrf_token": token})
    assert response.headers["location"] == "/admin/devices?notice=device_revoked"
    assert (await Device.get(id=device.id)).revoked_at is not None
    assert not await Session.filter(device_id=device.id).exists()


async def test_a_coordinator_manages_only_their_own_communitys_non_admin_users(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    coordinator = await factories.user(Role.COORDINATOR)
    own = await factories.user(Role.PEER_LEADER, community=await coordinator.community)  # type: ignore[misc]
    elsewhere = await factories.user(Role.PEER_LEADER)
    admin = await factories.user(Role.ADMIN)
    foreign_device = await factories.device(elsewhere)
    token = await staff_client(client, settings, coordinator)
    listing = await client.get("/admin/users", headers=EN)
    assert own.display_name in listing.text
    assert elsewhere.display_name not in listing.text and admin.display_name not in listing.text
    assert (await client.get(f"/admin/users/{elsewhere.id}")).status_code == 404
    assert (await client.get(f"/admin/users/{admin.id}")).status_code == 404
    refused = await client.post(
        f"/admin/users/{elsewhere.id}/deactivate", data={"_csrf_token": token}
    )
    assert refused.status_code == 404 and (await User.get(id=elsewhere.id)).is_active
    assert (
        await client.post(f"/admin/devices/{foreign_device.id}/revoke", data={"_csrf_token": token})
    ).status_code == 404
    no_admins = await client.post(
        "/admin/users",
        data={"_csrf_token": token, "display_name": "Boss", "username": "boss", "role": "admin"},
        headers=EN,
    )
    assert no_admins.status_code == 422 and not await User.exists(username="boss")
    made = await client.post(
        "/admin/users",
        data={
            "_csrf_token": token,
            "display_name": "New",
            "username": "new1",
            "role": "peer_leader",
        },
    )
    assert made.status_code == 303
    new = await User.get(username="new1")
    assert new.community_id == coordinator.community_id  # type: ignore[attr-defined]
    assert re.search(r"/admin/users/[0-9a-f-]+\?notice=created", made.headers["location"])
