"""Field-level merge and conflicts, end to end: two phones editing one participant, the
administrator resolving what they could not both have."""

from __future__ import annotations

import uuid

import httpx
import pytest

from server.settings import Settings
from sync import engine
from sync.models import AuditEvent, Conflict, Mutation, Participant, Role
from tests import factories as f
from tests.integration.test_sync_helpers import mutation, push


async def _two_phones(client: httpx.AsyncClient, settings: Settings):
    """A peer leader and a volunteer who both see one participant, each on their own phone."""
    community = await f.community()
    committee = await f.committee(community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    volunteer = await f.user(Role.VOLUNTEER, community=community, committee=committee)
    person = await f.participant(
        committee, peer_leader=leader, phone="13900000000", address="Bldg 1"
    )
    return leader, volunteer, person


async def _push_as(
    client: httpx.AsyncClient, settings: Settings, who, device_id, mutations
) -> dict:
    client.cookies.clear()
    client.headers.pop("x-csrftoken", None)
    await f.sign_in(client, who, settings)
    response = await push(client, device_id, mutations)
    assert response.status_code == 200, response.text
    return response.json()


async def test_two_devices_editing_different_fields_from_one_base_both_succeed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader, volunteer, person = await _two_phones(client, settings)
    first = await _push_as(
        client,
        settings,
        leader,
        uuid.uuid4(),
        [mutation(1, "participant", person.id, {"phone": "13911112222"}, base_version=1)],
    )
    second = await _push_as(
        client,
        settings,
        volunteer,
        uuid.uuid4(),
        [
            mutation(
                1,
                "participant",
                person.id,
                {"needs_visit": True, "needs_visit_reason": "moved"},
                base_version=1,
            )
        ],
    )
    assert first["results"][0]["status"] == "applied"
    assert second["results"][0]["status"] == "merged"
    assert second["results"][0]["version"] == 3
    await person.refresh_from_db()
    assert (person.phone, person.needs_visit, person.needs_visit_reason) == (
        "13911112222",
        True,
        "moved",
    )
    assert await Conflict.all().count() == 0


async def test_the_same_field_to_different_values_opens_one_conflict_and_writes_the_rest(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader, volunteer, person = await _two_phones(client, settings)
    await _push_as(
        client,
        settings,
        leader,
        uuid.uuid4(),
        [mutation(1, "participant", person.id, {"phone": "13911112222"}, base_version=1)],
    )
    phone_b = uuid.uuid4()
    body = await _push_as(
        client,
        settings,
        volunteer,
        phone_b,
        [
            mutation(
                1,
                "participant",
                person.id,
                {"phone": "13933334444", "address": "Bldg 9"},
                base_version=1,
            )
        ],
    )
    result = body["results"][0]
    assert result["status"] == "conflict"
    conflict = await Conflict.get(id=result["conflict_id"])
    assert conflict.fields_json == {
        "phone": {"base": "13900000000", "server": "13911112222", "device": "13933334444"}
    }
    assert (conflict.base_version, conflict.server_version) == (1, 2)
    assert conflict.user_id == volunteer.id and conflict.device_id == phone_b  # type: ignore[attr-defined]
    assert conflict.status == "open" and conflict.created_at is not None
    await person.refresh_from_db()
    assert (person.phone, person.address) == ("13911112222", "Bldg 9")  # nothing lost, server kept
    # The conflict is audited by its mutation row, which names the conflict.
    logged = await Mutation.get(device_id=phone_b)
    assert (logged.status, logged.user_id, logged.record_id) == (
        "conflict",
        volunteer.id,
        person.id,
    )  # type: ignore[attr-defined]
    assert logged.result["conflict_id"] == str(conflict.id)


async def test_sequential_edits_never_conflict(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader, volunteer, person = await _two_phones(client, settings)
    phone_a, phone_b = uuid.uuid4(), uuid.uuid4()
    versions = []
    for n, (who, device) in enumerate([(leader, phone_a), (volunteer, phone_b)] * 3, start=1):
        await person.refresh_from_db()
        body = await _push_as(
            client,
            settings,
            who,
            device,
            [
                mutation(
                    (n + 1) // 2,
                    "participant",
                    person.id,
                    {"phone": f"1390000000{n}"},
                    base_version=person.version,
                )
            ],
        )
        assert body["results"][0]["status"] == "applied"
        versions.append(body["results"][0]["version"])
    assert versions == [2, 3, 4, 5, 6, 7]
    assert await Conflict.all().count() == 0


async def test_a_queue_of_offline_edits_from_one_device_does_not_conflict_with_itself(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader, _volunteer, person = await _two_phones(client, settings)
    device = uuid.uuid4()
    await _push_as(
        client,
        settings,
        leader,
        device,
        [mutation(1, "participant", person.id, {"phone": "13911110001"}, base_version=1)],
    )
    body = await _push_as(
        client,
        settings,
        leader,
        device,
        [mutation(2, "participant", person.id, {"phone": "13911110002"}, base_version=1)],
    )
    assert body["results"][0]["status"] == "merged"
    await person.refresh_from_db()
    assert person.phone == "13911110002"


async def test_resolving_a_conflict_writes_a_new_version_and_closes_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader, volunteer, person = await _two_phones(client, settings)
    admin = await f.user(Role.ADMIN)
    await _push_as(
        client,
        settings,
        leader,
        uuid.uuid4(),
        [mutation(1, "participant", person.id, {"phone": "13911112222"}, base_version=1)],
    )
    body = await _push_as(
        client,
        settings,
        volunteer,
        uuid.uuid4(),
        [mutation(1, "participant", person.id, {"phone": "13933334444"}, base_version=1)],
    )
    conflict_id = body["results"][0]["conflict_id"]
    await person.refresh_from_db()
    before = person.version

    result = await engine.resolve_conflict(conflict_id, admin, {"phone": ("device", None)})
    assert result.status == "applied" and result.version == before + 1
    await person.refresh_from_db()
    assert person.phone == "13933334444"
    conflict = await Conflict.get(id=conflict_id)
    assert conflict.status == "resolved" and conflict.resolved_by_id == admin.id  # type: ignore[attr-defined]
    assert conflict.resolution == {"phone": {"choice": "device"}}
    event = await AuditEvent.get(action="conflict.resolved")
    assert "13933334444" not in str(event.detail)
    with pytest.raises(engine.ConflictClosed):
        await engine.dismiss_conflict(conflict_id, admin)


async def test_keeping_the_server_value_or_a_typed_value_and_dismissing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader, volunteer, person = await _two_phones(client, settings)
    coordinator = await f.user(Role.COORDINATOR, community=await person.community)
    outsider = await f.user(Role.COORDINATOR)
    await _push_as(
        client,
        settings,
        leader,
        uuid.uuid4(),
        [mutation(1, "participant", person.id, {"phone": "1", "address": "A"}, base_version=1)],
    )
    body = await _push_as(
        client,
        settings,
        volunteer,
        uuid.uuid4(),
        [mutation(1, "participant", person.id, {"phone": "2", "address": "B"}, base_version=1)],
    )
    conflict_id = body["results"][0]["conflict_id"]
    with pytest.raises(engine.NotAllowed):
        await engine.resolve_conflict(conflict_id, outsider, {})
    bad = await engine.resolve_conflict(conflict_id, coordinator, {"phone": ("value", 12)})
    assert bad.status == "rejected" and bad.errors == {"phone": ["must be text"]}
    assert (await Conflict.get(id=conflict_id)).status == "open"
    result = await engine.resolve_conflict(
        conflict_id, coordinator, {"phone": ("server", None), "address": ("value", "C")}
    )
    assert result.status == "applied"
    await person.refresh_from_db()
    assert (person.phone, person.address) == ("1", "C")

    await _push_as(
        client,
        settings,
        volunteer,
        uuid.uuid4(),
        [mutation(1, "participant", person.id, {"phone": "3"}, base_version=1)],
    )
    conflict = await Conflict.filter(status="open").first()
    assert conflict is not None
    await engine.dismiss_conflict(conflict.id, coordinator)
    assert (await Conflict.get(id=conflict.id)).status == "dismissed"
    assert await AuditEvent.filter(action="conflict.dismissed").count() == 1


async def test_pages_write_through_the_same_engine(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    coordinator = await f.user(Role.COORDINATOR)
    community = await coordinator.community
    committee = await f.committee(community)
    new_id = uuid.uuid4()
    created = await engine.write(
        coordinator,
        "participant",
        new_id,
        {
            "code": "P-NEW-1",
            "full_name": "Someone",
            "committee_id": str(committee.id),
            "enrolled_on": "2026-05-01",
            "consent_on": "2026-05-01",
        },
    )
    assert (created.status, created.version) == ("applied", 1)
    person = await Participant.get(id=new_id)
    assert person.community_id == community.id  # type: ignore[attr-defined]
    edited = await engine.write(
        coordinator, "participant", new_id, {"hba1c": 8.2, "hba1c_on": "2026-06-01"}
    )
    assert (edited.status, edited.version) == ("applied", 2)
    refused = await engine.write(
        coordinator,
        "participant",
        uuid.uuid4(),
        {
            "code": "P-NEW-2",
            "full_name": "No consent",
            "committee_id": str(committee.id),
            "enrolled_on": "2026-05-01",
        },
    )
    assert refused.status == "rejected" and "consent_on" in (refused.errors or {})
