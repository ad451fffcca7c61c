"""A phone asks where the conflicts its pushes opened stand (``GET /api/sync/conflicts``), to say
in "needs attention" whether an administrator has resolved them; nobody learns of another
user's conflicts."""

from __future__ import annotations

import uuid

import httpx

from server.settings import Settings
from sync.models import Conflict, ConflictStatus, Role, User
from tests import factories


async def conflict(user: User, status: ConflictStatus) -> Conflict:
    return await Conflict.create(
        id=uuid.uuid4(),
        entity="participant",
        record_id=uuid.uuid4(),
        base_version=1,
        server_version=2,
        fields_json={"phone": {"base": "1", "server": "2", "device": "3"}},
        user=user,
        status=status.value,
    )


async def test_a_user_learns_where_their_own_conflicts_stand_and_no_one_elses(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await factories.user(Role.VOLUNTEER)
    someone = await factories.user(Role.VOLUNTEER)
    open_, resolved, dismissed = [
        await conflict(me, s)
        for s in (ConflictStatus.OPEN, ConflictStatus.RESOLVED, ConflictStatus.DISMISSED)
    ]
    theirs = await conflict(someone, ConflictStatus.RESOLVED)
    await factories.sign_in(client, me, settings)
    ids = [open_.id, resolved.id, dismissed.id, theirs.id, uuid.uuid4()]
    response = await client.get("/api/sync/conflicts", params={"id": [str(i) for i in ids]})
    assert response.status_code == 200
    assert response.json() == {
        "conflicts": {
            str(open_.id): "open",
            str(resolved.id): "resolved",
            str(dismissed.id): "dismissed",
        }
    }
    assert response.headers["cache-control"] == "no-store"


async def test_a_malformed_or_oversized_question_gets_a_clear_422(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await factories.sign_in(client, await factories.user(Role.PEER_LEADER), settings)
    bad = await client.get("/api/sync/conflicts", params={"id": "not-a-uuid"})
    assert bad.status_code == 422 and "is not a conflict id" in bad.json()["message"]
    many = await client.get(
        "/api/sync/conflicts", params={"id": [str(uuid.uuid4()) for _ in range(101)]}
    )
    assert many.status_code == 422 and "at most 100" in many.json()["message"]
    assert (await client.get("/api/sync/conflicts")).json() == {"conflicts": {}}
