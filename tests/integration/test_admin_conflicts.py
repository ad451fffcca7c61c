"""Conflicts made by two real pushes are resolved (or dismissed) in the staff page, and the next
pull of both devices carries the resolved value."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from litestar import Litestar

from server.settings import Settings
from sync.models import AuditEvent, Conflict, Participant, Role, User
from tests import factories


@dataclass
class Phone:
    client: httpx.AsyncClient
    device_id: uuid.UUID
    cursor: str | None = None
    mutation_id: int = 0

    async def pull_all(self) -> dict[str, dict[str, Any]]:
        """Pull until done; the participant records seen, by id (latest wins)."""
        seen: dict[str, dict[str, Any]] = {}
        while True:
            params = {"cursor": self.cursor} if self.cursor else {}
            body = (await self.client.get("/api/sync/pull", params=params)).json()
            if body.get("resync"):
                self.cursor = None
                continue
            for change in body["changes"]:
                if change["entity"] == "participant":
                    seen[change["id"]] = {**change["fields"], "version": change["version"]}
            self.cursor = body["cursor"]
            if not body["has_more"]:
                return seen

    async def edit(self, record_id: uuid.UUID, base_version: int, **fields: Any) -> dict[str, Any]:
        self.mutation_id += 1
        response = await self.client.post(
            "/api/sync/push",
            json={
                "device_id": str(self.device_id),
                "schema_version": 1,
                "mutations": [
                    {
                        "mutation_id": self.mutation_id,
                        "entity": "participant",
                        "id": str(record_id),
                        "base_version": base_version,
                        "fields": fields,
                    }
                ],
            },
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["results"][0]
        return result


@asynccontextmanager
async def phone_of(app: Litestar, user: User, settings: Settings) -> AsyncIterator[Phone]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        device = await factories.device(user, label=f"{user.username}'s phone")
        await factories.sign_in(c, user, settings, device_id=device.id)
        yield Phone(c, device.id)


async def make_conflict(
    app: Litestar, settings: Settings
) -> tuple[Participant, Phone, Phone, User, Any, Any]:
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=committee)
    p = await factories.participant(committee, leader, phone="13900000000", address="1-101")
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    leader_ctx, volunteer_ctx = phone_of(app, leader, settings), phone_of(app, volunteer, settings)
    a = await leader_ctx.__aenter__()
    b = await volunteer_ctx.__aenter__()
    assert str(p.id) in await a.pull_all() and str(p.id) in await b.pull_all()
    # Both edit the phone number of version 1 while offline; the second push conflicts.
    assert (await a.edit(p.id, 1, phone="13911111111"))["status"] == "applied"
    second = await b.edit(p.id, 1, phone="13922222222", address="1-102")
    assert second["status"] == "conflict" and second["conflict_id"]
    return p, a, b, coordinator, leader_ctx, volunteer_ctx


async def test_resolving_in_the_page_reaches_both_devices(
    app: Litestar, client: httpx.AsyncClient, settings: Settings
) -> None:
    p, a, b, coordinator, *contexts = await make_conflict(app, settings)
    try:
        conflict = await Conflict.get(record_id=p.id)
        await factories.sign_in(client, coordinator, settings)
        listing = (await client.get("/admin/conflicts")).text
        assert f"/admin/conflicts/{conflict.id}" in listing
        page = (await client.get(f"/admin/conflicts/{conflict.id}")).text
        for value in ("13900000000", "13911111111", "13922222222"):  # base, server, device
            assert value in page
        response = await client.post(
            f"/admin/conflicts/{conflict.id}/resolve",
            data={"choice__phone": "value", "value__phone": "13933333333"},
        )
        assert response.status_code == 303
        conflict = await Conflict.get(id=conflict.id)
        assert conflict.status == "resolved" and conflict.resolved_by_id == coordinator.id  # type: ignore[attr-defined]
        for device in (a, b):
            seen = await device.pull_all()
            assert seen[str(p.id)]["phone"] == "13933333333"
            assert seen[str(p.id)]["address"] == "1-102"  # the non-overlapping edit was kept
        assert await AuditEvent.filter(action="conflict.resolved", record_id=str(p.id)).exists()
        # Resolved conflicts stay searchable, by status and by record.
        found = (await client.get(f"/admin/conflicts?status=resolved&record={p.code}")).text
        assert f"/admin/conflicts/{conflict.id}" in found
        assert f"/admin/conflicts/{conflict.id}" not in (await client.get("/admin/conflicts")).text
    finally:
        for ctx in contexts:
            await ctx.__aexit__(None, None, None)


async def test_taking_the_device_value_and_dismissing(
    app: Litestar, client: httpx.AsyncClient, settings: Settings
) -> None:
    p, a, b, coordinator, *contexts = await make_conflict(app, settings)
    try:
        conflict = await Conflict.get(record_id=p.id)
        await factories.sign_in(client, coordinator, settings)
        await client.post(
            f"/admin/conflicts/{conflict.id}/resolve", data={"choice__phone": "device"}
        )
        assert (await Participant.get(id=p.id)).phone == "13922222222"
        assert (await a.pull_all())[str(p.id)]["phone"] == "13922222222"

        # A second conflict, dismissed: the server's value stands and nothing is written.
        base = (await Participant.get(id=p.id)).version
        assert (await a.edit(p.id, base, phone="1"))["status"] == "applied"
        second = await b.edit(p.id, base, phone="2")
        assert second["status"] == "conflict"
        version_before = (await Participant.get(id=p.id)).version
        response = await client.post(f"/admin/conflicts/{second['conflict_id']}/dismiss")
        assert response.status_code == 303
        assert (await Conflict.get(id=second["conflict_id"])).status == "dismissed"
        after = await Participant.get(id=p.id)
        assert (after.phone, after.version) == ("1", version_before)
    finally:
        for ctx in contexts:
            await ctx.__aexit__(None, None, None)


async def test_an_invalid_typed_value_keeps_the_conflict_open(
    app: Litestar, client: httpx.AsyncClient, settings: Settings
) -> None:
    p, _, _, coordinator, *contexts = await make_conflict(app, settings)
    try:
        conflict = await Conflict.get(record_id=p.id)
        await factories.sign_in(client, coordinator, settings)
        # The engine's message, in the reader's language.
        for lang, message in (("zh-CN", "最多 32 个字"), ("en", "at most 32 characters")):
            client.cookies.set("lang", lang)
            response = await client.post(
                f"/admin/conflicts/{conflict.id}/resolve",
                data={"choice__phone": "value", "value__phone": "x" * 40},
            )
            assert response.status_code == 422 and message in response.text
        assert (await Conflict.get(id=conflict.id)).status == "open"
    finally:
        for ctx in contexts:
            await ctx.__aexit__(None, None, None)


async def test_a_coordinator_of_another_community_cannot_see_or_resolve(
    app: Litestar, client: httpx.AsyncClient, settings: Settings
) -> None:
    p, _, _, _, *contexts = await make_conflict(app, settings)
    try:
        conflict = await Conflict.get(record_id=p.id)
        stranger = await factories.user(Role.COORDINATOR)
        await factories.sign_in(client, stranger, settings)
        assert str(conflict.id) not in (await client.get("/admin/conflicts?status=all")).text
        assert (await client.get(f"/admin/conflicts/{conflict.id}")).status_code == 404
        response = await client.post(
            f"/admin/conflicts/{conflict.id}/resolve", data={"choice__phone": "device"}
        )
        assert response.status_code == 404
        assert (await Conflict.get(id=conflict.id)).status == "open"
    finally:
        for ctx in contexts:
            await ctx.__aexit__(None, None, None)
