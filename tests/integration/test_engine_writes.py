"""The engine is the staff pages' only door (``server.admin.writes``): a taken participant code
is refused on the ``code`` field with the engine's own message, in the reader's language, for a
single write, for an import's batch, and when another writer takes the code while the batch
runs (the database's unique constraint, not the batch's check, catches it)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from server.i18n import localize_errors
from server.settings import Settings
from sync import engine
from sync.models import Participant, Role
from tests import factories

TAKEN = {
    "en": "is already used by another participant",
    "zh-CN": "已被另一位参与者使用",
}


def new_participant(code: str, committee_id: Any) -> dict[str, Any]:
    return {
        "code": code,
        "full_name": "陈美玲",
        "committee_id": str(committee_id),
        "enrolled_on": "2026-05-01",
        "consent_on": "2026-05-01",
        "status": "active",
    }


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
async def test_a_staff_edit_to_a_taken_code_is_refused_on_the_field_in_the_readers_language(
    client: httpx.AsyncClient, settings: Settings, lang: str
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    holder = await factories.participant(committee, code="SH-0001")
    p = await factories.participant(committee, code="SH-0002")
    await factories.sign_in(client, coordinator, settings)
    client.cookies.set("lang", lang)
    form = {
        "code": "SH-0001",
        "full_name": p.full_name,
        "phone": p.phone,
        "committee_id": str(committee.id),
        "enrolled_on": "2026-05-01",
        "consent_on": "2026-05-01",
        "status": "active",
        "version": str(p.version),
    }
    response = await client.post(f"/admin/participants/{p.id}", data=form)
    assert response.status_code == 422
    assert TAKEN[lang] in response.text
    assert (await Participant.get(id=p.id)).code == "SH-0002"
    assert (await Participant.get(id=holder.id)).code == "SH-0001"


async def test_an_import_batch_refuses_only_the_row_whose_code_is_taken(db: str) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    await factories.participant(committee, code="SH-0001")
    taken, fresh = uuid.uuid4(), uuid.uuid4()
    results = await engine.write_many(
        coordinator,
        "participant",
        [
            (taken, new_participant("SH-0001", committee.id)),
            (fresh, new_participant("SH-0003", committee.id)),
        ],
    )
    assert [r.status for r in results] == ["rejected", "applied"]
    assert [r.id for r in results] == [str(taken), str(fresh)]
    for lang, text in TAKEN.items():
        assert localize_errors(lang, results[0].errors or {}) == {"code": [text]}
    assert not await Participant.exists(id=taken)
    assert await Participant.exists(id=fresh, code="SH-0003")


async def test_a_code_taken_while_the_batch_runs_is_refused_on_the_field(db: str) -> None:
    """PostgreSQL runs two writers at once: another transaction takes the code after the batch
    has checked it and before it inserts. The insert waits on the unique index, then fails when
    that transaction commits; the batch is written again record by record, and only the row
    with that code is refused, on ``code``, with the engine's translated message."""
    if not db.startswith("postgres"):
        pytest.skip("SQLite runs one writer at a time: a batch's check cannot be overtaken")
    community = await factories.community()
    committee = await factories.committee(community)
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    other = await factories.participant(committee, code="SH-0001")
    other_writer = await asyncpg.connect(db.replace("postgres://", "postgresql://", 1))
    try:
        waiting = other_writer.transaction()
        await waiting.start()
        await other_writer.execute(
            "UPDATE participant SET code = 'SH-0009' WHERE id = $1", other.id
        )
        late, fine = uuid.uuid4(), uuid.uuid4()
        batch = asyncio.create_task(
            engine.write_many(
                coordinator,
                "participant",
                [
                    (fine, new_participant("SH-0005", committee.id)),
                    (late, new_participant("SH-0009", committee.id)),
                ],
            )
        )
        async with asyncio.timeout(20):
            while not await other_writer.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ):
                assert not batch.done(), "the batch should wait on the code's unique index"
                await asyncio.sleep(0.02)
        await waiting.commit()
        async with asyncio.timeout(20):
            results = await batch
    finally:
        await other_writer.close()
    assert [r.status for r in results] == ["applied", "rejected"]
    for lang, text in TAKEN.items():
        assert localize_errors(lang, results[1].errors or {}) == {"code": [text]}
    assert await Participant.exists(id=fine, code="SH-0005")
    assert not await Participant.exists(id=late)
    assert await Participant.exists(id=other.id, code="SH-0009")
