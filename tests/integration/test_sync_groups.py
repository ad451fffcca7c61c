"""Groups are written through the engine (one write path) and reach phones read-only."""

from __future__ import annotations

import uuid

import httpx

from server.settings import Settings
from sync import engine
from sync.models import AuditEvent, Group, Mutation, Role, User
from tests import factories as f
from tests.integration.test_sync_helpers import mutation, pull_all, push


async def test_creating_and_editing_a_group_through_the_engine_makes_new_versions_with_history(
    db: str,
) -> None:
    community = await f.community()
    committee = await f.committee(community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    coordinator = await f.user(Role.COORDINATOR, community=community)

    created = await engine.write_group(
        coordinator,
        None,
        {"name": "Walkers", "community_id": str(community.id), "leader_id": str(leader.id)},
    )
    assert created.status == "applied" and created.version == 1
    group = await Group.get(id=created.id)
    assert group.name == "Walkers" and group.leader_id == leader.id and group.seq > 0  # type: ignore[attr-defined]

    edited = await engine.write_group(
        coordinator, group.id, {"name": "Morning walkers", "committee_id": str(committee.id)}
    )
    assert edited.status == "applied" and edited.version == 2
    after = await Group.get(id=group.id)
    assert after.name == "Morning walkers" and after.version == 2 and after.seq > group.seq
    history = await Mutation.filter(entity="group", record_id=group.id).order_by("version")
    assert [m.version for m in history] == [1, 2]
    assert history[1].changes["name"] == ["Walkers", "Morning walkers"]
    # Each write is audited by its mutation row (actor, status, record, time).
    assert [(m.user_id, m.status) for m in history] == [(coordinator.id, "applied")] * 2  # type: ignore[attr-defined]
    assert all(m.received_at is not None for m in history)
    assert not await AuditEvent.filter(entity="group", record_id=str(group.id)).exists()


async def test_a_group_new_to_a_leader_is_pulled_by_that_leader(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    leader = await f.user(Role.PEER_LEADER, community=community)
    admin = await f.user(Role.ADMIN)
    await f.sign_in(client, leader, settings)
    _, cursor = await pull_all(client)

    result = await engine.write_group(
        admin,
        None,
        {"name": "Tai chi", "community_id": str(community.id), "leader_id": str(leader.id)},
    )
    assert result.status == "applied"
    # Leading a new group widens the leader's scope: a resync, then the group arrives.
    response = await client.get("/api/sync/pull", params={"cursor": cursor})
    assert response.json() == {"resync": True}
    changes, _ = await pull_all(client)
    groups = [c for c in changes if c["entity"] == "group"]
    assert [(g["id"], g["version"], g["fields"]["name"]) for g in groups] == [
        (result.id, 1, "Tai chi")
    ]


async def test_a_phone_cannot_push_a_group(client: httpx.AsyncClient, settings: Settings) -> None:
    community = await f.community()
    coordinator = await f.user(Role.COORDINATOR, community=community)
    group = await f.group(community, name="Walkers")
    await f.sign_in(client, coordinator, settings)
    device = uuid.uuid4()
    response = await push(
        client,
        device,
        [
            mutation(1, "group", group.id, {"name": "Renamed"}, base_version=1),
            mutation(2, "group", uuid.uuid4(), {"name": "New", "community_id": str(community.id)}),
        ],
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert all("entity" in r["errors"] for r in results)
    assert (await Group.get(id=group.id)).name == "Walkers"
    assert await Group.filter(community_id=community.id).count() == 1


async def test_only_staff_write_groups_and_leaders_must_lead_in_that_community(db: str) -> None:
    community, elsewhere = await f.community(), await f.community()
    leader = await f.user(Role.PEER_LEADER, community=community)
    stranger = await f.user(Role.PEER_LEADER, community=elsewhere)
    volunteer = await f.user(Role.VOLUNTEER, community=community)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    group = await f.group(community, leader=leader)

    for who in (leader, volunteer):
        result = await engine.write_group(who, group.id, {"name": "Mine now"})
        assert result.status == "rejected" and "id" in (result.errors or {})
    foreign = await engine.write_group(
        coordinator, None, {"name": "Theirs", "community_id": str(elsewhere.id)}
    )
    assert foreign.status == "rejected"
    wrong_leader = await engine.write_group(
        coordinator, group.id, {"co_leader_id": str(stranger.id)}
    )
    assert wrong_leader.status == "rejected" and "co_leader_id" in (wrong_leader.errors or {})
    not_a_leader = await engine.write_group(
        coordinator, group.id, {"leader_id": str(coordinator.id)}
    )
    assert not_a_leader.status == "rejected" and "leader_id" in (not_a_leader.errors or {})
    moved = await engine.write_group(coordinator, group.id, {"community_id": str(elsewhere.id)})
    assert moved.status == "rejected"
    unchanged = await Group.get(id=group.id)
    assert unchanged.version == group.version and unchanged.leader_id == leader.id  # type: ignore[attr-defined]


async def test_a_leader_change_resyncs_the_leader_who_lost_the_group(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    old = await f.user(Role.PEER_LEADER, community=community)
    new = await f.user(Role.PEER_LEADER, community=community)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    created = await engine.write_group(
        coordinator,
        None,
        {"name": "Walkers", "community_id": str(community.id), "leader_id": str(old.id)},
    )
    await f.sign_in(client, old, settings)
    changes, cursor = await pull_all(client)
    assert created.id in {c["id"] for c in changes if c["entity"] == "group"}
    tokens = {u.id: u.scope_token for u in await User.filter(id__in=[old.id, new.id])}

    result = await engine.write_group(coordinator, created.id, {"leader_id": str(new.id)})
    assert result.status == "applied" and result.version == 2
    after = {u.id: u.scope_token for u in await User.filter(id__in=[old.id, new.id])}
    assert after[old.id] > tokens[old.id] and after[new.id] > tokens[new.id]
    response = await client.get("/api/sync/pull", params={"cursor": cursor})
    assert response.json() == {"resync": True}
    changes, _ = await pull_all(client)
    assert created.id not in {c["id"] for c in changes if c["entity"] == "group"}
