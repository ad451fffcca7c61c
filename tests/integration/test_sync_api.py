"""The sync HTTP API: what a phone sees when it pushes its queue and pulls its scope."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx

from server.settings import Settings
from sync.models import AuditEvent, Contact, Device, Mutation, Role
from tests import factories as f
from tests.integration.test_sync_helpers import contact_fields, mutation, pull_all, push


async def _peer_leader_with_participant(client: httpx.AsyncClient, settings: Settings):
    leader = await f.user(Role.PEER_LEADER)
    committee = await f.committee(await leader.community)
    person = await f.participant(committee, peer_leader=leader)
    device_id = uuid.uuid4()
    await f.sign_in(client, leader, settings)
    return leader, person, device_id


async def test_a_pushed_contact_is_applied_and_comes_back_in_the_pull(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader, person, device_id = await _peer_leader_with_participant(client, settings)
    contact_id = uuid.uuid4()
    response = await push(
        client,
        device_id,
        [mutation(1, "contact", contact_id, contact_fields(person.id, follow_up_on="2026-12-01"))],
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "last_mutation_id": 1,
        "results": [{"mutation_id": 1, "id": str(contact_id), "status": "applied", "version": 1}],
    }
    contact = await Contact.get(id=contact_id)
    assert contact.peer_leader_id == leader.id  # type: ignore[attr-defined]
    await person.refresh_from_db()
    assert person.last_contact_at is not None
    assert person.next_follow_up_on is not None and str(person.next_follow_up_on) == "2026-12-01"
    assert person.version == 2

    changes, _cursor = await pull_all(client)
    by_entity = {(c["entity"], c["id"]): c for c in changes}
    pulled = by_entity[("contact", str(contact_id))]
    assert pulled["version"] == 1
    assert pulled["fields"]["occurred_at"] == "2026-11-20T01:30:00+00:00"
    assert pulled["fields"]["peer_leader_id"] == str(leader.id)
    assert by_entity[("participant", str(person.id))]["fields"]["last_contact_at"].startswith(
        "2026-11-20T01:30:00"
    )
    device = await Device.get(id=device_id)
    assert device.user_id == leader.id and device.last_mutation_id == 1  # type: ignore[attr-defined]
    # The mutation row is the mutation's audit event: actor, device, status, record, time and
    # the request's id; no separate audit_event row is written per mutation.
    logged = await Mutation.get(device_id=device_id)
    assert (logged.user_id, logged.status, logged.entity, logged.record_id) == (  # type: ignore[attr-defined]
        leader.id,
        "applied",
        "contact",
        contact_id,
    )
    assert logged.received_at is not None and logged.request_id
    assert not await AuditEvent.filter(action="sync.applied").exists()
    assert await AuditEvent.filter(action="sync.pull").count() == 1


async def test_a_replayed_batch_is_answered_from_the_log_and_not_applied_twice(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person, device_id = await _peer_leader_with_participant(client, settings)
    batch = [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
    first = (await push(client, device_id, batch)).json()
    second = (await push(client, device_id, batch)).json()
    assert second["results"][0] == {**first["results"][0], "duplicate": True}
    assert await Contact.all().count() == 1
    assert await Mutation.all().count() == 1


async def test_a_mutation_sent_twice_in_one_batch_is_applied_once_and_answered_twice(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person, device_id = await _peer_leader_with_participant(client, settings)
    good = mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))
    bad = mutation(2, "contact", uuid.uuid4(), contact_fields(person.id, glucose_mmol=80))
    results = (await push(client, device_id, [good, good, bad, bad])).json()["results"]
    assert results[0]["status"] == "applied" and results[2]["status"] == "rejected"
    assert results[1] == {**results[0], "duplicate": True}
    assert results[3] == {**results[2], "duplicate": True}  # its reasons and templates too
    assert await Contact.all().count() == 1
    assert await Mutation.all().count() == 2


async def test_push_limits_and_errors(client: httpx.AsyncClient, settings: Settings) -> None:
    _leader, person, device_id = await _peer_leader_with_participant(client, settings)
    too_many = [
        mutation(i, "contact", uuid.uuid4(), contact_fields(person.id)) for i in range(1, 502)
    ]
    response = await push(client, device_id, too_many)
    assert response.status_code == 413
    assert "500" in response.json()["message"]

    big = json.dumps(
        {
            "device_id": str(device_id),
            "mutations": [mutation(1, "contact", uuid.uuid4(), {"note": "x" * (1024 * 1024)})],
        }
    )
    response = await client.post(
        "/api/sync/push", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert str(1024 * 1024) in response.json()["message"]

    bad = [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
    bad[0]["mutation_id"] = "one"
    response = await push(client, device_id, bad)
    assert response.status_code == 422
    assert response.json()["message"] == "mutations[0].mutation_id: expected int, got str"

    response = await push(
        client, device_id, [mutation(5, "contact", uuid.uuid4(), contact_fields(person.id))]
    )
    assert response.status_code == 409
    assert response.json()["last_mutation_id"] == 0
    assert await Contact.all().count() == 0


async def test_signed_out_and_revoked_devices_are_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.get("/api/sync/pull")
    assert response.status_code == 401
    response = await push(client, uuid.uuid4(), [])
    assert response.status_code in (401, 403)  # no CSRF token either: refused before the handler

    leader, person, device_id = await _peer_leader_with_participant(client, settings)
    await push(client, device_id, [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))])
    await Device.filter(id=device_id).update(revoked_at=datetime.now(UTC))
    response = await push(
        client, device_id, [mutation(2, "contact", uuid.uuid4(), contact_fields(person.id))]
    )
    assert response.status_code == 403
    assert response.json()["error"] == "device_revoked"
    client.headers["x-peerlog-device"] = str(device_id)
    response = await client.get("/api/sync/pull")
    assert response.status_code == 403

    other = await f.user(Role.PEER_LEADER)
    someone_elses = await f.device(other)
    del client.headers["x-peerlog-device"]
    response = await push(
        client, someone_elses.id, [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
    )
    assert response.status_code == 403
    assert leader.id != other.id
