"""Shared helpers for the sync tests (not a test module: no test functions)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

_ids = itertools.count(1)


def contact_fields(participant_id: Any, **kw: Any) -> dict[str, Any]:
    return {
        "participant_id": str(participant_id),
        "occurred_at": "2026-11-20T09:30:00+08:00",
        "mode": "home_visit",
        **kw,
    }


def mutation(
    mutation_id: int,
    entity: str,
    record_id: Any,
    fields: dict[str, Any],
    base_version: int = 0,
) -> dict[str, Any]:
    return {
        "mutation_id": mutation_id,
        "entity": entity,
        "id": str(record_id),
        "base_version": base_version,
        "fields": fields,
    }


async def push(
    client: httpx.AsyncClient, device_id: uuid.UUID, mutations: list[dict[str, Any]]
) -> httpx.Response:
    return await client.post(
        "/api/sync/push",
        json={"device_id": str(device_id), "schema_version": 1, "mutations": mutations},
    )


async def pull_all(
    client: httpx.AsyncClient, limit: int = 500, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Every change from ``cursor`` on, page by page; returns the changes and the last cursor."""
    changes: list[dict[str, Any]] = []
    for _ in range(10_000):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/sync/pull", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "resync" not in body
        changes.extend(body["changes"])
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert cursor is not None
    return changes, cursor
