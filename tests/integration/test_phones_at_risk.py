"""Phones at risk (SPEC 3, the outbox report): every push and pull keeps the phone's report on its
device row; staff see the phones that have not synced for days or hold records waiting for more
than a day, with who and how many, each within their own community; and a phone's saved file of
waiting records is applied through the engine exactly once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from server.settings import Settings
from sync.models import AuditEvent, Community, Contact, Device, Mutation, Role, User
from tests import factories as f
from tests.integration.test_sync_helpers import contact_fields, mutation, push

HEADER = "x-peerlog-outbox"


def _iso(d: datetime) -> str:
    return d.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _leader_on_phone(
    client: httpx.AsyncClient, settings: Settings, community: Community | None = None
) -> tuple[User, Any, uuid.UUID]:
    community = community or await f.community()
    leader = await f.user(Role.PEER_LEADER, community=community)
    person = await f.participant(await f.committee(community), peer_leader=leader)
    device = await f.device(leader, label="Android phone · Chrome")
    await f.sign_in(client, leader, settings, device_id=device.id)
    return leader, person, device.id


async def test_every_push_and_pull_keeps_the_phones_outbox_report(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, person, device_id = await _leader_on_phone(client, settings)
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    # The phone holds three records and pushes the first (a batch smaller than its queue).
    client.headers[HEADER] = f"waiting=3; oldest={_iso(two_days_ago)}"
    response = await push(
        client, device_id, [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
    )
    assert response.status_code == 200, response.text
    device = await Device.get(id=device_id)
    assert device.outbox_waiting == 2  # the acknowledged one has left the queue
    assert device.outbox_oldest_at is not None
    assert abs((device.outbox_oldest_at - two_days_ago).total_seconds()) < 1
    assert device.outbox_reported_at is not None

    # The pull that follows says the queue as it is now, and counts as the last sync.
    client.headers[HEADER] = "waiting=0"
    before = device.last_sync_at
    assert (await client.get("/api/sync/pull")).status_code == 200
    device = await Device.get(id=device_id)
    assert (device.outbox_waiting, device.outbox_oldest_at) == (0, None)
    assert device.last_sync_at is not None and before is not None
    assert device.last_sync_at >= before


async def test_an_unreadable_outbox_header_is_ignored_and_never_fails_the_sync(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, person, device_id = await _leader_on_phone(client, settings)
    for bad in ("waiting=lots", "waiting=2; oldest=last tuesday", "x" * 500, "=;=;"):
        client.headers[HEADER] = bad
        pushed = await push(
            client, device_id, [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
        )
        assert pushed.status_code == 200, pushed.text
        assert (await client.get("/api/sync/pull")).status_code == 200
    device = await Device.get(id=device_id)
    assert device.outbox_reported_at is None and device.outbox_waiting is None
    assert device.last_sync_at is not None


async def test_a_refused_push_still_leaves_its_report(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, person, device_id = await _leader_on_phone(client, settings)
    client.headers[HEADER] = "waiting=4; oldest=2026-11-01T00:00:00Z"
    gap = await push(
        client, device_id, [mutation(9, "contact", uuid.uuid4(), contact_fields(person.id))]
    )
    assert gap.status_code == 409
    device = await Device.get(id=device_id)
    assert device.outbox_waiting == 4
    assert device.outbox_oldest_at == datetime(2026, 11, 1, tzinfo=UTC)


async def _phone(owner: User, **kw: Any) -> Device:
    return await f.device(owner, label="Android phone · Chrome", **kw)


async def test_staff_see_the_phones_at_risk_of_their_community_with_who_and_how_many(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    now = datetime.now(UTC)
    ours, theirs = await f.community(), await f.community()
    coordinator = await f.user(Role.COORDINATOR, community=ours)
    waiting_leader = await f.user(Role.PEER_LEADER, community=ours, display_name="Li Na")
    silent_leader = await f.user(Role.PEER_LEADER, community=ours, display_name="Wang Fang")
    fine_leader = await f.user(Role.PEER_LEADER, community=ours, display_name="Zhao Lei")
    new_leader = await f.user(Role.PEER_LEADER, community=ours, display_name="Sun Mei")
    other_leader = await f.user(Role.PEER_LEADER, community=theirs, display_name="Chen Jie")
    # Synced an hour ago, but says 7 records have waited on it since two days ago.
    waiting = await _phone(
        waiting_leader,
        last_sync_at=now - timedelta(hours=1),
        outbox_waiting=7,
        outbox_oldest_at=now - timedelta(days=2),
        outbox_reported_at=now - timedelta(hours=1),
    )
    silent = await _phone(silent_leader, last_sync_at=now - timedelta(days=5))
    # Registered a week ago and never synced since.
    never = await _phone(new_leader)
    await Device.filter(id=never.id).update(created_at=now - timedelta(days=7))
    fine = await _phone(
        fine_leader,
        last_sync_at=now - timedelta(hours=2),
        outbox_waiting=2,
        outbox_oldest_at=now - timedelta(hours=3),
        outbox_reported_at=now - timedelta(hours=2),
    )
    revoked = await _phone(
        fine_leader, last_sync_at=now - timedelta(days=30), revoked_at=now - timedelta(days=1)
    )
    elsewhere = await _phone(other_leader, last_sync_at=now - timedelta(days=9))

    await f.sign_in(client, coordinator, settings)
    for path in ("/admin/devices", "/admin"):
        html = (await client.get(path)).text
        at_risk = html.split('id="at-risk"', 1)[1].split("</section>", 1)[0]
        for device in (waiting, silent, never):
            assert f'data-device="{device.id}"' in at_risk, path
        for device in (fine, revoked, elsewhere):
            assert f'data-device="{device.id}"' not in at_risk, path
        assert "Li Na" in at_risk and "Wang Fang" in at_risk and "Sun Mei" in at_risk
        assert 'data-waiting="7"' in at_risk
        assert "Chen Jie" not in html
    # The most waiting records first.
    assert at_risk.index(str(waiting.id)) < at_risk.index(str(silent.id))
    chinese = (await client.get("/admin/devices", headers={"accept-language": "zh-CN"})).text
    assert "有风险的手机" in chinese and "7 条等待" in chinese and "从未" in chinese

    admin = await f.user(Role.ADMIN)
    await f.sign_in(client, admin, settings)
    at_risk = (await client.get("/admin/devices")).text.split('id="at-risk"', 1)[1]
    assert f'data-device="{elsewhere.id}"' in at_risk.split("</section>", 1)[0]

    # The threshold is a setting.
    strict = Settings(**{**settings.__dict__, "at_risk_days": 10})
    from server.admin.phones import phones_at_risk

    listed = {r.device.id for r in await phones_at_risk(admin, strict.at_risk_days)}
    assert waiting.id in listed and silent.id not in listed and elsewhere.id not in listed


# --- the file of waiting records --------------------------------------------------------------


def waiting_file(device_id: uuid.UUID, mutations: list[dict[str, Any]]) -> bytes:
    """The file the phone's Settings saves (pwa/static/js/outbox.js, ``waitingFile``)."""
    return json.dumps(
        {
            "kind": "peerlog-waiting-records",
            "version": 1,
            "device_id": str(device_id),
            "saved_at": "2026-11-25T08:00:00.000Z",
            "schema_version": 1,
            "mutations": [{**m, "client_time": "2026-11-24T10:00:00+08:00"} for m in mutations],
        }
    ).encode()


async def as_staff(client: httpx.AsyncClient, who: User, settings: Settings) -> None:
    """Sign ``who`` in at a desktop browser: no phone's device id, no outbox report."""
    client.headers.pop("x-peerlog-device", None)
    client.headers.pop(HEADER, None)
    await f.sign_in(client, who, settings)


async def upload(client: httpx.AsyncClient, device_id: uuid.UUID, data: bytes) -> httpx.Response:
    return await client.post(
        f"/admin/devices/{device_id}/waiting-records",
        files={"file": ("peerlog-waiting.json", data, "application/json")},
        data={"_csrf_token": client.headers["x-csrftoken"]},
        headers={"accept-language": "en"},
    )


async def test_a_file_of_waiting_records_is_applied_exactly_once_and_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    leader, person, device_id = await _leader_on_phone(client, settings, community)
    # The phone got its first record through; two more wait on it.
    first = await push(
        client, device_id, [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
    )
    assert first.status_code == 200
    queued = [
        mutation(n, "contact", uuid.uuid4(), contact_fields(person.id, duration_min=10 * n))
        for n in (2, 3)
    ]
    data = waiting_file(device_id, queued)

    coordinator = await f.user(Role.COORDINATOR, community=community)
    await as_staff(client, coordinator, settings)
    synced = (await Device.get(id=device_id)).last_sync_at
    response = await upload(client, device_id, data)
    assert response.status_code == 200, response.text
    assert 'data-applied="2" data-already="0"' in response.text
    # The phone itself did not sync: staff still see when it last did.
    assert (await Device.get(id=device_id)).last_sync_at == synced
    shown = (await client.get(f"/admin/devices/{device_id}")).text
    assert 'id="last-upload"' in shown and coordinator.display_name in shown
    assert await Contact.filter(peer_leader=leader).count() == 3
    # Applied as the phone and its user, with the phone's own numbers.
    logged = await Mutation.filter(device_id=device_id).order_by("mutation_id")
    assert [(m.mutation_id, m.user_id, m.status) for m in logged] == [  # type: ignore[attr-defined]
        (1, leader.id, "applied"),
        (2, leader.id, "applied"),
        (3, leader.id, "applied"),
    ]
    event = await AuditEvent.get(action="device.waiting_records")
    assert event.actor_id == coordinator.id and event.record_id == str(device_id)  # type: ignore[attr-defined]
    assert event.detail["received"] == 2 and event.detail["statuses"] == {"applied": 2}

    # Uploading the same file again changes nothing.
    again = await upload(client, device_id, data)
    assert again.status_code == 200
    assert 'data-applied="0" data-already="2"' in again.text
    assert await Contact.filter(peer_leader=leader).count() == 3
    assert await AuditEvent.filter(action="device.waiting_records").count() == 2

    # Nor does the phone sending them itself later: it is answered from the mutation log.
    await f.sign_in(client, leader, settings, device_id=device_id)
    late = await push(client, device_id, queued)
    assert late.status_code == 200
    assert [r.get("duplicate") for r in late.json()["results"]] == [True, True]
    assert await Contact.filter(peer_leader=leader).count() == 3


async def test_a_wrong_or_damaged_file_is_refused_with_a_clear_message(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    leader, person, device_id = await _leader_on_phone(client, settings, community)
    other = await _phone(leader)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    await as_staff(client, coordinator, settings)
    good = [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
    cases = {
        b"not json at all": "not a file of waiting records",
        json.dumps({"kind": "something else"}).encode(): "not a file of waiting records",
        waiting_file(other.id, good): "another device",
        waiting_file(device_id, [{**good[0], "mutation_id": "one"}]): "mutations[0].mutation_id",
        waiting_file(device_id, [{**good[0], "secret": 1}]): "unknown field",
        waiting_file(device_id, []): "no waiting records",
        waiting_file(
            device_id, [mutation(5, "contact", uuid.uuid4(), contact_fields(person.id))]
        ): ("do not follow on"),
    }
    for data, message in cases.items():
        response = await upload(client, device_id, data)
        assert response.status_code == 422, (message, response.status_code)
        assert message in response.text, message
    assert not await Contact.filter(peer_leader=leader).exists()
    assert not await AuditEvent.filter(action="device.waiting_records").exists()


async def test_only_an_admin_or_the_communitys_coordinator_may_upload_a_phones_records(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    leader, person, device_id = await _leader_on_phone(client, settings, community)
    data = waiting_file(
        device_id, [mutation(1, "contact", uuid.uuid4(), contact_fields(person.id))]
    )
    # The phone's own user may not: staff pages only.
    assert (await upload(client, device_id, data)).status_code == 403
    elsewhere = await f.user(Role.COORDINATOR, community=await f.community())
    await as_staff(client, elsewhere, settings)
    assert (await client.get(f"/admin/devices/{device_id}")).status_code == 404
    assert (await upload(client, device_id, data)).status_code == 404
    assert not await Contact.filter(peer_leader=leader).exists()
    admin = await f.user(Role.ADMIN)
    await as_staff(client, admin, settings)
    page = await client.get(f"/admin/devices/{device_id}")
    assert page.status_code == 200 and "upload-waiting" in page.text
    assert (await upload(client, device_id, data)).status_code == 200
    assert await Contact.filter(peer_leader=leader).count() == 1
