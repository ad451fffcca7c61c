"""Pull paging returns every change exactly once; duplicate pushes at the same moment write once;
and a full sync run writes no health data to the logs."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from tortoise.transactions import in_transaction

from server.settings import Settings
from sync import cursor as cursors
from sync import engine, sequence
from sync.instruments import BUILT_IN
from sync.models import AuditEvent, Contact, Instrument, Mutation, Participant, Role, User
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


async def test_pages_merge_every_table_in_sequence_order_and_count_what_is_left(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """A page reads each table after the cursor and stops a table at the page's end once it
    is known (``sync.pull``): changes of five tables interleaved by sequence number, some
    sharing one, others out of scope, pulled with pages of every size from 1 to 9 and 1,000.
    Each page holds exactly the scope's changes numbered after the cursor up to the next one,
    in order, and ``total_estimate`` is what is left from the cursor on."""
    leader = await f.user(Role.PEER_LEADER)
    other = await f.user(Role.PEER_LEADER, community=await leader.community)
    committee = await f.committee(await leader.community)
    mine = [await f.participant(committee, peer_leader=leader, seq=0) for _ in range(3)]
    theirs = await f.participant(committee, peer_leader=other, seq=0)
    rng = random.Random(14)
    expected: dict[tuple[str, str], int] = {}  # (entity, id) → seq, in the leader's scope
    async with in_transaction() as conn:
        first = await sequence.allocate(conn, 60)
    numbers = [first + n // 2 if n % 7 == 0 else first + n for n in range(60)]  # some shared
    rng.shuffle(numbers)
    for n, seq in enumerate(numbers):
        person = rng.choice([*mine, theirs])
        day = date(2026, 6, 1) + timedelta(days=n)
        when = datetime(2026, 6, 1, 9, tzinfo=UTC) + timedelta(days=n)
        kind = n % 5
        if kind == 0:
            person.seq = seq
            await person.save(update_fields=["seq"])
            row: Any = person
            entity = "participant"
        elif kind == 1:
            entity, row = "contact", await Contact.create(
                participant=person,
                peer_leader_id=person.peer_leader_id,  # type: ignore[attr-defined]
                community_id=person.community_id,  # type: ignore[attr-defined]
                occurred_at=when,
                mode="phone",
                seq=seq,
            )
        elif kind == 2:
            entity, row = "measurement", await f.measurement(person, "hba1c", 7.0, day, seq=seq)
        elif kind == 3:
            entity, row = "assessment", await f.assessment(
                person, leader, "baseline", day, {"q1": 2, "q2": 3}, seq=seq
            )
        else:
            entity, row = "group_activity", await f.group_activity(
                leader if person is not theirs else other, "wechat", when, seq=seq
            )
        visible = person is not theirs
        if visible:
            expected[(entity, str(row.id))] = seq
        else:
            expected.pop((entity, str(row.id)), None)
    await f.sign_in(client, leader, settings)
    # What is always there: the built-in questionnaires, numbered by the migration.
    baseline, _ = await pull_all(client, limit=1000)
    for change in baseline:
        key = (change["entity"], change["id"])
        if key not in expected:
            model = {"instrument": Instrument, "participant": Participant}[change["entity"]]
            expected[key] = (await model.get(id=change["id"])).seq
    for limit in [*range(1, 10), 1000]:
        cursor: str | None = None
        seen: list[tuple[str, str]] = []
        for _ in range(500):
            after = cursors.decode(cursor).seq if cursor else cursors.START
            response = await client.get(
                "/api/sync/pull", params={"limit": limit, **({"cursor": cursor} if cursor else {})}
            )
            body = response.json()
            upto = cursors.decode(body["cursor"]).seq
            left = [k for k, seq in expected.items() if seq > after]
            assert body["total_estimate"] == len(left), (limit, after)
            page = [(c["entity"], c["id"]) for c in body["changes"]]
            if body["has_more"]:
                want = {k for k, seq in expected.items() if after < seq <= upto}
            else:
                want = set(left)
            assert set(page) == want and len(page) == len(want), (limit, after)
            numbers_on_page = [expected[k] for k in page]
            assert numbers_on_page == sorted(numbers_on_page)
            # A page is longer than asked only to keep rows sharing a number together.
            assert len(page) <= limit or len({expected[k] for k in page[limit - 1 :]}) == 1
            seen += page
            cursor = body["cursor"]
            if not body["has_more"]:
                break
        assert sorted(seen) == sorted(expected), limit
