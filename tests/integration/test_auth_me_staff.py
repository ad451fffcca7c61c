"""``/api/auth/me`` names the health centre's staff for the phone's co-leader pick-list: the active
coordinators of the user's own community, and nobody for a volunteer."""

from __future__ import annotations

import httpx

from server.settings import Settings
from sync.models import Role
from tests import factories


async def test_a_peer_leader_hears_the_active_coordinators_of_their_community_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    leader = await factories.user(Role.PEER_LEADER, community=community)
    await factories.user(Role.COORDINATOR, community=community, display_name="王医生")
    await factories.user(Role.COORDINATOR, community=community, display_name="李护士")
    await factories.user(
        Role.COORDINATOR, community=community, display_name="张医生", is_active=False
    )
    await factories.user(Role.COORDINATOR, display_name="赵医生")  # another community
    await factories.user(Role.PEER_LEADER, community=community, display_name="陈阿姨")
    await factories.sign_in(client, leader, settings)
    me = (await client.get("/api/auth/me")).json()
    assert me["staff"] == sorted(["王医生", "李护士"])

    volunteer = await factories.user(Role.VOLUNTEER, community=community)
    await factories.sign_in(client, volunteer, settings)
    assert "staff" not in (await client.get("/api/auth/me")).json()
