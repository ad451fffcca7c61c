"""The evaluation records' own rules beyond the shared promises (test_sync_evaluation.py): which
group or committee an activity is for, whom a rating is about, whose a training is."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from server.settings import Settings
from sync.models import GroupActivity, ImplementationRating, Role, Training
from tests import factories as f
from tests.integration.test_sync_helpers import mutation, push


async def _push(client: httpx.AsyncClient, *ms: dict[str, Any]) -> list[dict[str, Any]]:
    response = await push(client, uuid.uuid4(), list(ms))
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


ACTIVITY = {
    "channel": "neighbourhood_activity",
    "occurred_at": "2026-11-02T15:00:00+08:00",
    "topic": "健步走",
    "participants_count": 12,
    "residents_count": 30,
}


async def test_an_activity_is_for_one_group_or_one_committee_of_the_leader_s_community(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community, elsewhere = await f.community(), await f.community()
    committee, far = await f.committee(community), await f.committee(elsewhere)
    leader = await f.user(Role.PEER_LEADER, community=community)
    group = await f.group(community, leader=leader)
    await f.sign_in(client, leader, settings)
    ok, both, neither, far_away = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    results = await _push(
        client,
        mutation(1, "group_activity", ok, {**ACTIVITY, "committee_id": str(committee.id)}),
        mutation(
            2,
            "group_activity",
            both,
            {**ACTIVITY, "committee_id": str(committee.id), "group_id": str(group.id)},
        ),
        mutation(3, "group_activity", neither, ACTIVITY),
        mutation(4, "group_activity", far_away, {**ACTIVITY, "committee_id": str(far.id)}),
    )
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "rejected"]
    assert list(results[1]["errors"]) == ["group_id"]
    assert list(results[2]["errors"]) == ["group_id"]
    assert list(results[3]["errors"]) == ["committee_id"]
    row = await GroupActivity.get(id=ok)
    assert (row.community_id, row.peer_leader_id) == (community.id, leader.id)  # type: ignore[attr-defined]
    # No contact per person: an activity is its own kind of dose.
    assert await GroupActivity.all().count() == 1


async def test_a_rating_is_about_one_peer_leader_or_one_community_of_the_coordinator(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community, elsewhere = await f.community(), await f.community()
    coordinator = await f.user(Role.COORDINATOR, community=community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    far_leader = await f.user(Role.PEER_LEADER, community=elsewhere)
    await f.sign_in(client, coordinator, settings)
    ids = [uuid.uuid4() for _ in range(5)]
    base = {"period": "2026-Q3", "linkage_to_care": 4}
    results = await _push(
        client,
        mutation(1, "implementation_rating", ids[0], {**base, "peer_leader_id": str(leader.id)}),
        mutation(2, "implementation_rating", ids[1], {**base, "community_id": str(community.id)}),
        mutation(
            3,
            "implementation_rating",
            ids[2],
            {**base, "peer_leader_id": str(leader.id), "community_id": str(community.id)},
        ),
        mutation(
            4, "implementation_rating", ids[3], {**base, "peer_leader_id": str(far_leader.id)}
        ),
        mutation(5, "implementation_rating", ids[4], {**base, "period": "2026-13"}),
    )
    assert [r["status"] for r in results] == [
        "applied",
        "applied",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert list(results[2]["errors"]) == ["peer_leader_id"]
    assert list(results[3]["errors"]) == ["peer_leader_id"]
    assert list(results[4]["errors"]) == ["period"]
    about_leader = await ImplementationRating.get(id=ids[0])
    about_community = await ImplementationRating.get(id=ids[1])
    assert (about_leader.community_id, about_leader.rated_by_id) == (community.id, coordinator.id)  # type: ignore[attr-defined]
    assert (about_community.peer_leader_id, about_community.community_id) == (None, community.id)  # type: ignore[attr-defined]


async def test_a_coordinator_s_training_is_their_community_s_and_an_administrator_s_the_program_s(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community, elsewhere = await f.community(), await f.community()
    coordinator = await f.user(Role.COORDINATOR, community=community)
    admin = await f.user(Role.ADMIN)
    leader = await f.user(Role.PEER_LEADER, community=community)
    far_leader = await f.user(Role.PEER_LEADER, community=elsewhere)
    session = {"title": "足部护理", "held_on": "2026-10-20", "hours": 1.5}
    await f.sign_in(client, coordinator, settings)
    mine, wrong = uuid.uuid4(), uuid.uuid4()
    results = await _push(
        client,
        mutation(1, "training", mine, {**session, "attendee_ids": [str(leader.id)]}),
        mutation(2, "training", wrong, {**session, "attendee_ids": [str(far_leader.id)]}),
    )
    assert [r["status"] for r in results] == ["applied", "rejected"]
    assert list(results[1]["errors"]) == ["attendee_ids"]
    client.cookies.clear()
    await f.sign_in(client, admin, settings)
    program = uuid.uuid4()
    results = await _push(
        client,
        mutation(
            1,
            "training",
            program,
            {**session, "attendee_ids": [str(leader.id), str(far_leader.id)]},
        ),
    )
    assert results[0]["status"] == "applied"
    assert (await Training.get(id=mine)).community_id == community.id  # type: ignore[attr-defined]
    row = await Training.get(id=program)
    assert (row.community_id, row.trainer_id) == (None, admin.id)  # type: ignore[attr-defined]
