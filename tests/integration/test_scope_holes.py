"""Nobody gets in where they do not belong: a participant's peer leader is one of their own
community's, and a new invite for someone who can already sign in is an administrator's act,
audited, and told to that person's phones at their next sync (SPEC 5)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from server.auth.invites import create_invite
from server.settings import Settings
from sync import engine
from sync.models import AuditEvent, Credential, Device, Invite, Participant, Role
from tests import factories as f
from tests.integration.test_sync_helpers import mutation, pull_all, push
from tests.integration.test_sync_scope import _ids, program


async def test_a_coordinator_cannot_hand_a_participant_to_another_communitys_peer_leader(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    stranger = await f.user(Role.PEER_LEADER, community=p.other_community)
    await f.sign_in(client, p.coordinator, settings)
    client.cookies.set("lang", "en")
    device = uuid.uuid4()
    batch = [
        mutation(1, "participant", p.mine.id, {"peer_leader_id": str(stranger.id)}, 1),
        mutation(2, "participant", p.theirs.id, {"peer_leader_id": str(p.leader.id)}, 1),
    ]
    response = await push(client, device, batch)
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["status"] == "rejected" and list(first["errors"]) == ["peer_leader_id"]
    assert "participant's community" in first["errors"]["peer_leader_id"][0]
    assert second["status"] in ("applied", "merged")
    assert (await Participant.get(id=p.mine.id)).peer_leader_id == p.leader.id  # type: ignore[attr-defined]

    # The stranger's phone never receives the profile.
    client.cookies.clear()
    await f.sign_in(client, stranger, settings)
    changes, _ = await pull_all(client)
    assert str(p.mine.id) not in _ids(changes, "participant")


async def test_a_staff_page_write_refuses_another_communitys_peer_leader_with_the_reason(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    stranger = await f.user(Role.PEER_LEADER, community=p.other_community)
    await f.sign_in(client, p.coordinator, settings)
    client.cookies.set("lang", "en")
    result = await engine.write(
        p.coordinator, "participant", p.theirs.id, {"peer_leader_id": str(stranger.id)}
    )
    assert result.status == "rejected" and "peer_leader_id" in result.errors


async def test_moving_a_participant_to_another_community_needs_a_peer_leader_there(
    db: str,
) -> None:
    p = await program()
    far_committee = await f.committee(p.other_community)
    moved = await engine.write(
        p.admin, "participant", p.mine.id, {"committee_id": str(far_committee.id)}
    )
    assert moved.status == "rejected" and list(moved.errors) == ["peer_leader_id"]
    far_leader = await f.user(Role.PEER_LEADER, community=p.other_community)
    moved = await engine.write(
        p.admin,
        "participant",
        p.mine.id,
        {"committee_id": str(far_committee.id), "peer_leader_id": str(far_leader.id)},
    )
    assert moved.status == "applied"


async def _enrolled_leader_with_phones(n: int = 2):
    community = await f.community()
    leader = await f.user(Role.PEER_LEADER, community=community)
    await Credential.create(user=leader, credential_id=f"cred-{uuid.uuid4()}", public_key=b"k")
    phones = [await f.device(leader) for _ in range(n)]
    return community, leader, phones


async def test_a_coordinator_cannot_make_an_invite_for_someone_who_can_sign_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community, leader, _phones = await _enrolled_leader_with_phones()
    newcomer = await f.user(Role.PEER_LEADER, community=community)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    await f.sign_in(client, coordinator, settings)
    client.cookies.set("lang", "en")

    page = await client.get(f"/admin/users/{leader.id}")
    assert "Only an administrator can make a new invite" in page.text
    assert f'action="/admin/users/{leader.id}/invite"' not in page.text
    response = await client.post(f"/admin/users/{leader.id}/invite")
    assert response.status_code == 303
    assert response.headers["location"].endswith("notice=invite_admin_only")
    assert not await Invite.exists(user_id=leader.id)
    refused = await AuditEvent.get(action="invite.create_refused")
    assert refused.actor_id == coordinator.id and refused.record_id == str(leader.id)  # type: ignore[attr-defined]
    assert not await Device.filter(user_id=leader.id, notice__isnull=False).exists()

    # Someone who has never signed in still gets their first invite from a coordinator.
    response = await client.post(f"/admin/users/{newcomer.id}/invite")
    assert response.headers["location"].endswith("notice=invite_created")
    assert await Invite.exists(user_id=newcomer.id)


async def test_an_administrators_invite_for_an_enrolled_user_is_audited_and_told_to_their_phones(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _community, leader, phones = await _enrolled_leader_with_phones()
    revoked = await f.device(leader, revoked_at=datetime.now(UTC))
    admin = await f.user(Role.ADMIN)
    await f.sign_in(client, admin, settings)
    response = await client.post(f"/admin/users/{leader.id}/invite")
    assert response.headers["location"].endswith("notice=invite_created")
    invite = await Invite.get(user_id=leader.id)
    event = await AuditEvent.get(action="invite.created", record_id=str(leader.id))
    assert event.actor_id == admin.id  # type: ignore[attr-defined]
    assert event.detail == {
        "invite_id": str(invite.id),
        "already_enrolled": True,
        "devices_told": 2,
    }
    assert not await Device.filter(id=revoked.id, notice__isnull=False).exists()

    # Each phone hears of it at its next sync, on every pull while the invite could be used.
    for phone in phones:
        client.cookies.clear()
        client.headers.pop("x-peerlog-device", None)
        await f.sign_in(client, leader, settings, device_id=phone.id)
        for _ in range(2):
            pulled = await client.get("/api/sync/pull")
            assert pulled.status_code == 200
            notice = pulled.headers.get("x-peerlog-notice", "")
            assert re.fullmatch(r"invite; at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", notice)
    # Another user's phone hears nothing.
    other = await f.user(Role.PEER_LEADER)
    other_phone = await f.device(other)
    client.cookies.clear()
    client.headers.pop("x-peerlog-device", None)
    await f.sign_in(client, other, settings, device_id=other_phone.id)
    assert "x-peerlog-notice" not in (await client.get("/api/sync/pull")).headers


async def test_the_notice_stops_when_the_invite_could_no_longer_be_used(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _community, leader, phones = await _enrolled_leader_with_phones(1)
    await create_invite(leader, settings)  # the command line: the operator, like an admin
    assert await AuditEvent.filter(action="invite.created", actor_id=None).exists()
    await f.sign_in(client, leader, settings, device_id=phones[0].id)
    assert "x-peerlog-notice" in (await client.get("/api/sync/pull")).headers
    old = datetime.now(UTC) - timedelta(days=settings.invite_days + 1)
    await Device.filter(id=phones[0].id).update(notice_at=old)
    assert "x-peerlog-notice" not in (await client.get("/api/sync/pull")).headers


async def test_an_invite_for_someone_who_never_signed_in_tells_no_phone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader = await f.user(Role.PEER_LEADER)
    phone = await f.device(leader)  # a phone made a device row, but no passkey exists
    await create_invite(leader, settings, created_by=await f.user(Role.ADMIN))
    event = await AuditEvent.get(action="invite.created")
    assert "already_enrolled" not in event.detail
    await f.sign_in(client, leader, settings, device_id=phone.id)
    assert "x-peerlog-notice" not in (await client.get("/api/sync/pull")).headers
