"""A coordinator's phone records supervision, training and ratings offline, so its pull brings
the names its forms pick a peer leader from: the peer leaders of their community, ids and names
only, with the last page. Nobody else's pull carries them."""

from __future__ import annotations

from typing import Any

import httpx

from server.settings import Settings
from sync.models import Role
from tests import factories as f


async def _pages(client: httpx.AsyncClient, limit: int = 500) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/sync/pull", params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["cursor"]
        if not pages[-1]["has_more"]:
            return pages


async def test_a_coordinators_last_page_names_the_peer_leaders_of_their_community_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    committee = await f.committee(community)
    li = await f.user(Role.PEER_LEADER, community=community, display_name="李红")
    wang = await f.user(Role.PEER_LEADER, community=community, display_name="王芳")
    gone = await f.user(Role.PEER_LEADER, community=community, display_name="赵强", is_active=False)
    elsewhere = await f.user(Role.PEER_LEADER, display_name="陈静")
    volunteer = await f.user(Role.VOLUNTEER, community=community, committee=committee)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    group = await f.group(community, leader=li, committee=committee)
    for _ in range(3):
        await f.participant(committee, peer_leader=li, group=group)

    await f.sign_in(client, coordinator, settings)
    pages = await _pages(client, limit=2)
    assert len(pages) > 1
    assert all("peer_leaders" not in p for p in pages[:-1])
    assert pages[-1]["peer_leaders"] == [
        {"id": str(li.id), "name": "李红", "active": True},
        {"id": str(wang.id), "name": "王芳", "active": True},
        {"id": str(gone.id), "name": "赵强", "active": False},
    ]
    assert str(elsewhere.id) not in str(pages)
    # Every later sync brings them again (a rename is right at the next sync).
    wang.display_name = "王芳芳"
    await wang.save()
    again = await client.get("/api/sync/pull", params={"cursor": pages[-1]["cursor"]})
    assert {p["name"] for p in again.json()["peer_leaders"]} == {"李红", "王芳芳", "赵强"}

    for who in (li, volunteer, await f.user(Role.ADMIN)):
        client.cookies.clear()
        client.headers.pop("x-csrftoken", None)
        await f.sign_in(client, who, settings)
        assert all("peer_leaders" not in p for p in await _pages(client)), who.role
