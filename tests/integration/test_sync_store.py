"""The bulk row helpers write and read back every kind of column the same on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from sync import db as sync_db
from sync import store
from sync.models import Role
from tests import factories as f


async def test_many_rows_rewritten_at_once_read_back_exactly_as_written(db: str) -> None:
    community = await f.community()
    committee = await f.committee(community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    participant = await f.participant(committee, peer_leader=leader)
    dialect = store.Dialect(sync_db.dialect())
    now = datetime.now(UTC)
    rows = []
    for n in range(3):
        row = store.blank("contact")
        row.update(
            id=str(uuid.uuid4()),
            participant_id=str(participant.id),
            peer_leader_id=str(leader.id),
            community_id=str(community.id),
            occurred_at="2026-11-20T01:30:00+00:00",
            mode="home_visit",
            version=1,
            seq=n + 1,
            updated_at=now.isoformat(),
        )
        rows.append(row)
    async with in_transaction() as conn:
        await store.insert_many(conn, dialect, "contact", rows, now)
    edited = [
        {
            **row,
            "functions": ["being_there"] if n else [],
            "topics": ["diet", "sleep"],
            "glucose_mmol": 5.5 + n,
            "duration_min": 10 * n or None,
            "follow_up_on": f"2026-12-0{n + 1}",
            "occurred_at": f"2026-11-2{n}T0{n}:15:00+00:00",
            "voided": n == 2,
            "void_reason": "typed twice" if n == 2 else None,
            "note": None if n else "first",
            "version": 2,
            "seq": 10 + n,
        }
        for n, row in enumerate(rows)
    ]
    async with in_transaction() as conn:
        await store.update_many(conn, dialect, "contact", edited)
        back = await store.fetch_by_ids(conn, dialect, "contact", [r["id"] for r in rows])
    by_id = {r["id"]: r for r in back}
    for row in edited:
        stored = by_id[row["id"]]
        for name in store.COLUMNS["contact"]:
            if name != "updated_at":
                assert stored[name] == row[name], name
