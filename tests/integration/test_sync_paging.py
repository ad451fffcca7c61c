"""Pull paging returns every change exactly once; duplicate pushes at the same moment write once;
and a full sync run writes no health data to the logs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from litestar import Litestar

from server.settings import Settings
from sync import engine
from sync.instruments import BUILT_IN
from sync.models import AuditEvent, Contact, Mutation, Participant, Role, User
from tests import factories as f
from tests.integration.test_sync_helpers import contact_fields, mutation, pull_all, push


async def _admin_client(app: Litestar, settings: Settings, who: User) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000"
    )
    await f.sign_in(client, who, settings)
    return client


async def test_small_pages_return_every_change_once_even_when_written_in_the_same_millisecond(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader = await f.user(Role.PEER_LEADER)
    committee = await f.committee(await leader.community)
    people = [await f.participant(committee, peer_leader=leader) for _ in range(5)]
    await f.sign_in(client, leader, settings)
    # One batch: one transaction, one timestamp for all 60 rows.
    batch = [
        mutation(i, "contact", uuid.uuid4(), contact_fields(people[i % 5].id)) for i in range(1, 61)
    ]
    assert (await push(client, uuid.uuid4(), batch)).status_code == 200
    first = await client.get("/api/sync/pull", params={"limit": 7})
    # … and the built-in questionnaires every peer leader receives.
    assert first.json()["total_estimate"] == 65 + len(BUILT_IN)
    changes, _ = await pull_all(client, limit=7)
    keys = Counter((c["entity"], c["id"]) for c in changes)
    assert max(keys.values()) == 1
    assert sum(1 for e, _ in keys if e == "contact") == 60
    assert sum(1 for e, _ in keys if e == "participant") == 5
    assert sum(1 for e, _ in keys if e == "instrument") == len(BUILT_IN)


async def test_paging_while_other_devices_push_never_skips_a_change(
    app: Litestar, settings: Settings
) -> None:
    community = await f.community()
    # The coordinator receives every record of the community (an administrator's phone has a
    # bounded scope).
    admin = await f.user(Role.COORDINATOR, community=community)
    committee = await f.committee(community)
    leaders = [await f.user(Role.PEER_LEADER, community=community) for _ in range(4)]
    people = {
        leader.id: [await f.participant(committee, peer_leader=leader) for _ in range(3)]
        for leader in leaders
    }
    reader = await _admin_client(app, settings, admin)
    writers = [await _admin_client(app, settings, leader) for leader in leaders]
    done = asyncio.Event()

    async def write(n: int) -> None:
        device = uuid.uuid4()
        mine = people[leaders[n].id]
        for batch_no in range(6):
            batch = [
                mutation(batch_no * 5 + i, "contact", uuid.uuid4(), contact_fields(mine[i % 3].id))
                for i in range(1, 6)
            ]
            response = await push(writers[n], device, batch)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0)

    seen: list[dict[str, Any]] = []

    async def read() -> None:
        cursor: str | None = None
        while True:
            finished = done.is_set()
            params: dict[str, Any] = {"limit": 5}
            if cursor:
                params["cursor"] = cursor
            body = (await reader.get("/api/sync/pull", params=params)).json()
            seen.extend(body["changes"])
            cursor = body["cursor"]
            if finished and not body["has_more"]:
                return
            await asyncio.sleep(0)

    async def writers_then_done() -> None:
        await asyncio.gather(*(write(n) for n in range(4)))
        done.set()

    try:
        await asyncio.gather(read(), writers_then_done())
    finally:
        for c in [reader, *writers]:
            await c.aclose()
    pulled = Counter((c["entity"], c["id"], c["version"]) for c in seen)
    assert max(pulled.values()) == 1, "a change was sent twice"
    latest = {(c["entity"], c["id"]): c["version"] for c in seen}
    for contact in await Contact.all():
        assert latest[("contact", str(contact.id))] == contact.version
    for person in await Participant.all():
        assert latest[("participant", str(person.id))] == person.version
    assert await Contact.all().count() == 4 * 6 * 5


async def test_the_same_batch_pushed_several_times_at_once_writes_one_row(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader = await f.user(Role.PEER_LEADER)
    person = await f.participant(await f.committee(await leader.community), peer_leader=leader)
    await f.sign_in(client, leader, settings)
    device, contact = uuid.uuid4(), uuid.uuid4()  # a device the server has never seen
    batch = [mutation(1, "contact", contact, contact_fields(person.id))]
    responses = await asyncio.gather(*(push(client, device, batch) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    results = [r.json()["results"][0] for r in responses]
    assert sum(1 for r in results if not r.get("duplicate")) == 1
    assert {(r["status"], r["version"]) for r in results} == {("applied", 1)}
    assert await Contact.filter(id=contact).count() == 1
    assert await Mutation.filter(device_id=device).count() == 1
    assert await Mutation.filter(device_id=device, status="applied").count() == 1


SECRETS = {
    "full_name": "Wang Xiuying",
    "phone": "13712345678",
    "hba1c": "9.87",
    "notes": "lives alone above the shop",
    "note": "felt dizzy after lunch",
    "glucose": "17.3",
    "address": "Bldg 42 Unit 7",
}


@pytest.mark.parametrize("level", [logging.DEBUG])
async def test_a_full_sync_run_logs_no_name_phone_clinical_value_or_note(
    client: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture, level: int
) -> None:
    caplog.set_level(level)
    for name in ("peerlog", "tortoise", "aiosqlite", "asyncpg", "litestar", "httpx", ""):
        caplog.set_level(level, logger=name)
    community = await f.community()
    committee = await f.committee(community)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    volunteer = await f.user(Role.VOLUNTEER, community=community, committee=committee)
    pid = uuid.uuid4()
    created = await engine.write(
        coordinator,
        "participant",
        pid,
        {
            "code": "P-LOG-1",
            "full_name": SECRETS["full_name"],
            "phone": SECRETS["phone"],
            "address": SECRETS["address"],
            "committee_id": str(committee.id),
            "peer_leader_id": str(leader.id),
            "hba1c": float(SECRETS["hba1c"]),
            "hba1c_on": "2026-10-01",
            "notes": SECRETS["notes"],
        },
    )
    assert created.status == "applied"
    await f.sign_in(client, leader, settings)
    device = uuid.uuid4()
    batch = [
        mutation(
            1,
            "contact",
            uuid.uuid4(),
            contact_fields(pid, note=SECRETS["note"], glucose_mmol=float(SECRETS["glucose"])),
        ),
        mutation(
            2, "contact", uuid.uuid4(), contact_fields(pid, note=SECRETS["note"], glucose_mmol=99.0)
        ),
        mutation(
            3, "participant", pid, {"phone": SECRETS["phone"][::-1], "hba1c": 5.5}, base_version=1
        ),
        mutation(4, "participant", pid, {"phone": "13700000000"}, base_version=1),
    ]
    response = await push(client, device, batch)
    assert response.status_code == 200
    await push(client, device, batch)  # replay, answered from the log
    bad = await push(
        client, device, [mutation(9, "contact", uuid.uuid4(), {"note": SECRETS["note"]})]
    )
    assert bad.status_code == 409
    await pull_all(client, limit=2)
    client.cookies.clear()
    await f.sign_in(client, volunteer, settings)
    await pull_all(client)
    await engine.write(coordinator, "participant", pid, {"phone": SECRETS["phone"]}, base_version=1)

    text = caplog.text
    assert "push device=" in text  # the run was logged …
    for secret in SECRETS.values():
        assert secret not in text  # … without health data
    details = " ".join(str(e.detail) for e in await AuditEvent.all())
    for secret in SECRETS.values():
        assert secret not in details
    # The audit page shows every mutation (from its log row) by field names, never values.
    client.cookies.clear()
    await f.sign_in(client, coordinator, settings)
    audit = (await client.get("/admin/audit")).text
    assert "sync.applied" in audit and "sync.pull" in audit
    for secret in SECRETS.values():
        assert secret not in audit


async def test_rows_sharing_one_sequence_number_are_never_split_across_pages(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # Rows made outside the engine keep seq 0 (the model default): seven of them, pages of 2.
    leader = await f.user(Role.PEER_LEADER)
    committee = await f.committee(await leader.community)
    people = {str((await f.participant(committee, peer_leader=leader)).id) for _ in range(7)}
    await f.sign_in(client, leader, settings)
    changes, _ = await pull_all(client, limit=2)
    assert [c["id"] for c in changes if c["entity"] == "participant"].count(next(iter(people))) == 1
    assert {c["id"] for c in changes if c["entity"] == "participant"} == people
