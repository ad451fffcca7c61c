"""The foundation: health, error bodies, migrations and model round-trips on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from tortoise import connections

from sync import db as sync_db
from sync.models import Contact, Participant, Role
from tests import factories


async def test_health_reports_the_database(client: httpx.AsyncClient, db: str) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "postgres" if db.startswith("postgres") else "sqlite",
    }


async def test_unknown_route_gets_a_json_error_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code in (403, 404)
    body = response.json()
    assert body["message"] and "Traceback" not in response.text


async def test_migrations_are_idempotent(db: str) -> None:
    await sync_db.close()
    await sync_db.migrate(db)  # a second run finds nothing to do and changes nothing
    await sync_db.init(db)
    rows = await connections.get("default").execute_query_dict(
        "SELECT COUNT(*) AS n FROM tortoise_migrations"
    )
    assert rows[0]["n"] >= 1


async def test_synced_records_round_trip(db: str) -> None:
    leader = await factories.user(Role.PEER_LEADER)
    committee = await factories.committee(await leader.community)  # type: ignore[misc]
    p = await factories.participant(
        committee,
        leader,
        conditions=["t2d", "hypertension"],
        hba1c_baseline=8.6,
        full_name="王秀英",
    )
    when = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    c = await Contact.create(
        participant=p,
        peer_leader=leader,
        community_id=committee.community_id,  # type: ignore[attr-defined]
        occurred_at=when,
        mode="home_visit",
        functions=["being_there"],
        follow_up_on=date(2026, 12, 4),
    )
    again: Any = await Participant.get(id=p.id)
    assert (again.full_name, again.conditions, again.hba1c_baseline) == (
        "王秀英",
        ["t2d", "hypertension"],
        8.6,
    )
    contact = await Contact.get(id=c.id)
    assert contact.occurred_at == when and contact.follow_up_on == date(2026, 12, 4)
    assert contact.version == 1 and contact.functions == ["being_there"]


async def test_the_openapi_contract_is_published_with_the_sync_and_sign_in_routes(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/sync/push", "/api/sync/pull", "/api/auth/login", "/healthz"} <= set(paths)
