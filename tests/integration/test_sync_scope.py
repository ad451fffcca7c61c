"""Scope and field filtering per role, and per-mutation rejection of what a role may not write."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, replace
from typing import Any

import httpx

from server.settings import Settings
from sync import engine
from sync.entities import PHONE_ENTITIES
from sync.models import Community, Contact, Device, Group, GroupMeeting, Participant, Role, User
from sync.wire import ROSTER_FIELDS
from tests import factories as f
from tests.integration.test_sync_helpers import contact_fields, mutation, pull_all, push

CLINICAL = {
    "hba1c",
    "hba1c_baseline",
    "bp_systolic",
    "bp_diastolic",
    "weight_kg",
    "notes",
    "conditions",
}


@dataclass
class Program:
    community: Community
    other_community: Community
    leader: User
    other_leader: User
    volunteer: User
    coordinator: User
    admin: User
    group: Group
    mine: Participant  # assigned to leader
    in_my_group: Participant  # in a group the leader leads, assigned to nobody
    theirs: Participant  # same committee, another peer leader
    far: Participant  # another community


async def program() -> Program:
    community, other_community = await f.community(), await f.community()
    committee = await f.committee(community)
    other_committee = await f.committee(community)
    far_committee = await f.committee(other_community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    other_leader = await f.user(Role.PEER_LEADER, community=community)
    group = await f.group(community, leader=leader)
    p = Program(
        community=community,
        other_community=other_community,
        leader=leader,
        other_leader=other_leader,
        volunteer=await f.user(Role.VOLUNTEER, community=community, committee=committee),
        coordinator=await f.user(Role.COORDINATOR, community=community),
        admin=await f.user(Role.ADMIN),
        group=group,
        mine=await f.participant(committee, peer_leader=leader, hba1c=8.4, notes="private"),
        in_my_group=await f.participant(other_committee, group=group),
        theirs=await f.participant(committee, peer_leader=other_leader, hba1c=9.1),
        far=await f.participant(far_committee),
    )
    # Some history to pull: one contact each by the two leaders, a meeting of the group.
    await engine.write(leader, "contact", uuid.uuid4(), contact_fields(p.mine.id, note="n1"))
    await engine.write(other_leader, "contact", uuid.uuid4(), contact_fields(p.theirs.id))
    await engine.write(
        leader,
        "group_meeting",
        uuid.uuid4(),
        {
            "group_id": str(group.id),
            "occurred_at": "2026-11-19T15:00:00+08:00",
            "attendee_ids": [str(p.mine.id), str(p.in_my_group.id)],
        },
    )
    await engine.write(p.admin, "contact", uuid.uuid4(), contact_fields(p.far.id, note="far away"))
    return p


async def _pull_as(
    client: httpx.AsyncClient, settings: Settings, who: User
) -> list[dict[str, Any]]:
    client.cookies.clear()
    await f.sign_in(client, who, settings)
    changes, _ = await pull_all(client, limit=3)
    return changes


def _ids(changes: list[dict[str, Any]], entity: str) -> set[str]:
    return {c["id"] for c in changes if c["entity"] == entity}


async def test_a_peer_leader_receives_only_their_participants_contacts_and_groups(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    changes = await _pull_as(client, settings, p.leader)
    assert _ids(changes, "participant") == {str(p.mine.id), str(p.in_my_group.id)}
    own = {str(c.id) for c in await Contact.filter(peer_leader_id=p.leader.id)}
    assert len(own) == 3  # the one logged and one per meeting attendee
    assert _ids(changes, "contact") == own
    assert _ids(changes, "group_meeting") == {str(m.id) for m in await GroupMeeting.all()}
    assert _ids(changes, "group") == {str(p.group.id)}
    full = next(c for c in changes if c["id"] == str(p.mine.id))
    assert full["fields"]["hba1c"] == 8.4 and full["fields"]["notes"] == "private"


async def test_a_volunteer_receives_roster_fields_of_their_committee_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    changes = await _pull_as(client, settings, p.volunteer)
    assert {c["entity"] for c in changes} == {"participant"}
    assert _ids(changes, "participant") == {str(p.mine.id), str(p.theirs.id)}
    for change in changes:
        assert set(change["fields"]) <= set(ROSTER_FIELDS) | {"updated_at"}
        assert not CLINICAL & set(change["fields"])
    assert "private" not in str(changes) and "8.4" not in str(changes)


async def test_a_volunteer_receives_exactly_spec_1s_roster_fields(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """SPEC 1: name, building/unit, phone, peer leader, status, last contact date, next
    follow-up, and the needs-visit mark they set; never the program code, sex or group."""
    p = await program()
    await Participant.filter(id=p.mine.id).update(sex="female", group_id=p.group.id)
    changes = await _pull_as(client, settings, p.volunteer)
    roster = {
        "full_name", "phone", "address", "committee_id", "peer_leader_id", "status",
        "needs_visit", "needs_visit_reason", "last_contact_at", "next_follow_up_on",
    }  # fmt: skip
    for change in changes:
        assert set(change["fields"]) - {"updated_at"} == roster
    mine = next(c for c in changes if c["id"] == str(p.mine.id))
    assert p.mine.code not in str(mine) and "female" not in str(mine)


async def test_a_phone_holding_the_old_roster_fields_resyncs_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """A volunteer's cursor made when rosters still carried code, sex and group: the next pull
    answers resync, so the phone fetches its roster again and replaces every record."""
    from sync import cursor as cursors

    p = await program()
    client.cookies.clear()
    await f.sign_in(client, p.volunteer, settings)
    _changes, fresh = await pull_all(client)
    old = cursors.decode(fresh)
    volunteer = p.volunteer
    before = cursors.encode(
        dataclasses.replace(
            old,
            scope=f"volunteer:{volunteer.community_id}:{volunteer.committee_id}",  # type: ignore[attr-defined]
        )
    )
    resync = await client.get("/api/sync/pull", params={"cursor": before})
    assert resync.json() == {"resync": True}
    again = await client.get("/api/sync/pull", params={"cursor": fresh})
    assert "resync" not in again.json()


async def test_a_coordinator_receives_their_community_and_an_admin_only_their_own(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    changes = await _pull_as(client, settings, p.coordinator)
    assert str(p.far.id) not in _ids(changes, "participant")
    assert _ids(changes, "participant") == {str(p.mine.id), str(p.in_my_group.id), str(p.theirs.id)}
    assert len(_ids(changes, "contact")) == 4
    # An administrator's phone never downloads the program: what a peer leader would have
    # (here the one contact they wrote, nobody assigned to them).
    changes = await _pull_as(client, settings, p.admin)
    assert _ids(changes, "participant") == set()
    assert _ids(changes, "contact") == {
        str(c.id) for c in await Contact.filter(peer_leader_id=p.admin.id)
    }
    assert len(_ids(changes, "contact")) == 1


async def test_an_admin_phone_that_pulled_the_whole_program_resyncs_to_its_bounded_scope(
    db: str,
) -> None:
    from sync import cursor as cursors
    from sync.wire import ResyncResponse

    p = await program()
    first = await engine.pull(p.admin, None, 100)
    assert not isinstance(first, ResyncResponse)
    assert not isinstance(await engine.pull(p.admin, first.cursor, 100), ResyncResponse)
    # The same cursor as made under the old, unbounded administrator scope ("admin:-:-").
    old = cursors.encode(replace(cursors.decode(first.cursor), scope="admin:-:-"))
    assert isinstance(await engine.pull(p.admin, old, 100), ResyncResponse)


async def test_forbidden_writes_are_rejected_one_by_one_and_the_rest_of_the_batch_applies(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    client.headers["accept-language"] = "en"  # messages in English (see test_sync_messages)
    await f.sign_in(client, p.leader, settings)
    device = uuid.uuid4()
    good_contact = uuid.uuid4()
    batch = [
        mutation(1, "contact", uuid.uuid4(), contact_fields(p.theirs.id)),  # out of scope
        mutation(2, "participant", p.mine.id, {"hba1c": 7.0}, base_version=1),  # forbidden field
        mutation(3, "participant", p.mine.id, {"phone": "13800000001"}, base_version=1),
        mutation(4, "contact", good_contact, contact_fields(p.mine.id)),
        mutation(
            5,
            "participant",
            uuid.uuid4(),
            {"code": "X", "full_name": "Y", "committee_id": str(uuid.uuid4())},
        ),
        mutation(6, "participant", p.theirs.id, {"phone": "13800000002"}, base_version=1),
        mutation(
            7,
            "group_meeting",
            uuid.uuid4(),
            {"group_id": str(uuid.uuid4()), "occurred_at": "2026-11-19T15:00:00+08:00"},
        ),
    ]
    response = await push(client, device, batch)
    assert response.status_code == 200
    body = response.json()
    assert body["last_mutation_id"] == 7
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [
        "rejected",
        "rejected",
        "merged",
        "applied",
        "rejected",
        "rejected",
        "rejected",
    ]
    errors = [r.get("errors") for r in body["results"]]
    assert errors[0] == {"participant_id": ["no such participant in your scope"]}
    assert errors[1] == {"hba1c": ["your role (peer_leader) may not change this field"]}
    assert errors[4] == {"id": ["only coordinators and administrators can enrol participants"]}
    assert errors[5] == {"id": ["this participant is outside your scope"]}
    assert "group_id" in errors[6]
    assert await Contact.filter(id=good_contact).exists()
    mine = await Participant.get(id=p.mine.id)
    assert mine.phone == "13800000001" and mine.hba1c == 8.4
    assert (await Device.get(id=device)).last_mutation_id == 7


async def test_a_volunteer_edits_roster_fields_and_nothing_else(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    await f.sign_in(client, p.volunteer, settings)
    batch = [
        mutation(
            1,
            "participant",
            p.theirs.id,
            {"needs_visit": True, "needs_visit_reason": "moved"},
            base_version=1,
        ),
        mutation(2, "participant", p.theirs.id, {"notes": "x"}, base_version=1),
        mutation(3, "contact", uuid.uuid4(), contact_fields(p.theirs.id)),
        mutation(4, "participant", p.in_my_group.id, {"phone": "1"}, base_version=1),
    ]
    body = (await push(client, uuid.uuid4(), batch)).json()
    # Merged: the participant moved on (a contact updated its last contact date) since base 1.
    assert [r["status"] for r in body["results"]] == ["merged", "rejected", "rejected", "rejected"]


async def test_invalid_values_are_rejected_with_a_message_per_field_and_nothing_else_is_lost(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    client.headers["accept-language"] = "en"  # messages in English (see test_sync_messages)
    await f.sign_in(client, p.leader, settings)
    good = uuid.uuid4()
    batch = [
        mutation(1, "contact", uuid.uuid4(), contact_fields(p.mine.id, duration_min="long")),
        mutation(2, "contact", uuid.uuid4(), contact_fields(p.mine.id, glucose_mmol=80)),
        mutation(
            3,
            "contact",
            uuid.uuid4(),
            contact_fields(p.mine.id, occurred_at="2099-01-01T00:00:00+00:00"),
        ),
        mutation(4, "contact", uuid.uuid4(), contact_fields(p.mine.id, mood="good")),
        mutation(5, "visit", uuid.uuid4(), {}),
        mutation(
            6,
            "contact",
            good,
            contact_fields(p.mine.id, glucose_mmol=6.5, functions=["being_there"]),
        ),
        mutation(7, "contact", uuid.uuid4(), {"mode": "home_visit"}),
    ]
    body = (await push(client, uuid.uuid4(), batch)).json()
    results = body["results"]
    assert [r["status"] for r in results] == ["rejected"] * 5 + ["applied", "rejected"]
    assert results[0]["errors"] == {"duration_min": ["must be a number"]}
    assert results[1]["errors"] == {"glucose_mmol": ["must be between 1 and 35 mmol/L"]}
    assert results[2]["errors"] == {"occurred_at": ["must not be in the future"]}
    assert results[3]["errors"] == {"mood": ["unknown field for contact"]}
    assert results[4]["errors"] == {"entity": [f"must be one of {', '.join(PHONE_ENTITIES)}"]}
    assert set(results[6]["errors"]) == {"participant_id", "occurred_at"}
    assert await Contact.filter(id=good).exists()
    assert body["last_mutation_id"] == 7


async def test_a_reassigned_participant_sends_the_old_peer_leader_into_resync(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    await f.sign_in(client, p.leader, settings)
    _, cursor = await pull_all(client)
    result = await engine.write(
        p.coordinator, "participant", p.mine.id, {"peer_leader_id": str(p.other_leader.id)}
    )
    assert result.status == "applied"
    response = await client.get("/api/sync/pull", params={"cursor": cursor})
    assert response.json() == {"resync": True}
    changes, _ = await pull_all(client)  # starting again: the participant is gone from scope
    assert str(p.mine.id) not in _ids(changes, "participant")

    await f.sign_in(client, p.other_leader, settings)
    changes, _ = await pull_all(client)
    assert str(p.mine.id) in _ids(changes, "participant")


async def test_a_group_meeting_counts_as_a_contact_for_each_attendee_and_follows_edits(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    await f.sign_in(client, p.leader, settings)
    device, meeting = uuid.uuid4(), uuid.uuid4()
    fields = {
        "group_id": str(p.group.id),
        "occurred_at": "2026-11-20T15:00:00+08:00",
        "attendee_ids": [str(p.mine.id), str(p.in_my_group.id)],
        "topic": "diet",
    }
    batch = [mutation(1, "group_meeting", meeting, fields)]
    assert (await push(client, device, batch)).json()["results"][0]["status"] == "applied"
    await push(client, device, batch)  # replay
    expanded = await Contact.filter(meeting_id=meeting).order_by("participant_id")
    assert len(expanded) == 2 and {c.mode for c in expanded} == {"group_meeting"}
    assert all(not c.voided for c in expanded)
    in_group = await Participant.get(id=p.in_my_group.id)
    assert in_group.last_contact_at is not None

    body = (
        await push(
            client,
            device,
            [
                mutation(
                    2, "group_meeting", meeting, {"attendee_ids": [str(p.mine.id)]}, base_version=1
                )
            ],
        )
    ).json()
    assert body["results"][0]["status"] == "applied"
    dropped = await Contact.get(meeting_id=meeting, participant_id=p.in_my_group.id)
    assert dropped.voided and dropped.version == 2
    in_group = await Participant.get(id=p.in_my_group.id)
    # Its only other contact is the meeting logged in program(): the newest left.
    assert in_group.last_contact_at is not None and in_group.last_contact_at.day == 19

    await push(
        client,
        device,
        [
            mutation(
                3,
                "group_meeting",
                meeting,
                {"voided": True, "void_reason": "duplicate"},
                base_version=2,
            )
        ],
    )
    assert await Contact.filter(meeting_id=meeting, voided=False).count() == 0
    forbidden = await push(
        client, device, [mutation(4, "contact", dropped.id, {"note": "x"}, base_version=2)]
    )
    assert forbidden.json()["results"][0]["status"] == "rejected"


async def test_a_duplicate_participant_code_rejects_that_mutation_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await program()
    client.headers["accept-language"] = "en"  # messages in English (see test_sync_messages)
    committee_id = str(p.mine.committee_id)  # type: ignore[attr-defined]

    def new(code: str) -> dict[str, Any]:
        return {"code": code, "full_name": "New person", "committee_id": committee_id}

    await f.sign_in(client, p.coordinator, settings)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    batch = [
        mutation(1, "participant", first, new("DUP-1")),
        mutation(2, "participant", second, new("DUP-1")),  # taken earlier in this batch
        mutation(3, "participant", third, new(p.mine.code)),  # taken in the database
        mutation(4, "participant", uuid.uuid4(), new("FREE-1")),
    ]
    body = (await push(client, uuid.uuid4(), batch)).json()
    assert [r["status"] for r in body["results"]] == ["applied", "rejected", "rejected", "applied"]
    assert body["results"][1]["errors"] == {"code": ["is already used by another participant"]}
    assert await Participant.filter(code="DUP-1").count() == 1


async def test_a_batch_with_a_contact_then_a_meeting_then_a_new_participant_contact_is_written(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # Rows go in parent-first order whatever the batch order: foreign keys hold per statement.
    p = await program()
    await f.sign_in(client, p.coordinator, settings)
    new_person = uuid.uuid4()
    meeting = uuid.uuid4()
    batch = [
        mutation(1, "contact", uuid.uuid4(), contact_fields(p.mine.id)),
        mutation(
            2,
            "group_meeting",
            meeting,
            {
                "group_id": str(p.group.id),
                "occurred_at": "2026-11-20T15:00:00+08:00",
                "attendee_ids": [str(p.mine.id)],
            },
        ),
        mutation(
            3,
            "participant",
            new_person,
            {"code": "ORDER-1", "full_name": "New", "committee_id": str(p.mine.committee_id)},  # type: ignore[attr-defined]
        ),
        mutation(4, "contact", uuid.uuid4(), contact_fields(new_person)),
    ]
    response = await push(client, uuid.uuid4(), batch)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["applied"] * 4
    assert await Contact.filter(meeting_id=meeting).count() == 1
    assert await Contact.filter(participant_id=new_person).count() == 1
