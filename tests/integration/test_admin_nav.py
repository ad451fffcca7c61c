"""Staff navigation links to every staff page the role may use, and to none it may not."""

from __future__ import annotations

import httpx
import pytest

from server.settings import Settings
from sync.models import Role
from tests import factories

IDENTITY_PAGES = ("/admin/users", "/admin/invites", "/admin/devices")


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMIN])
async def test_staff_navigation_reaches_users_invites_and_devices(
    client: httpx.AsyncClient, settings: Settings, role: Role
) -> None:
    await factories.sign_in(client, await factories.user(role), settings)
    html = (await client.get("/admin/dashboard")).text
    for path in IDENTITY_PAGES:
        assert f'href="{path}"' in html
        assert (await client.get(path)).status_code == 200


async def test_a_volunteer_navigation_has_no_staff_links(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await factories.sign_in(client, await factories.user(Role.VOLUNTEER), settings)
    html = (await client.get("/admin/roster")).text
    for path in (*IDENTITY_PAGES, "/admin/dashboard", "/admin/audit"):
        assert f'href="{path}"' not in html


async def test_english_pages_label_enumerations_in_english(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    from sync.models import Contact

    coordinator = await factories.user(Role.COORDINATOR)
    leader = await factories.user(Role.PEER_LEADER, community=await coordinator.community)  # type: ignore[misc]
    committee = await factories.committee(await coordinator.community)  # type: ignore[misc]
    p = await factories.participant(committee, leader)
    await Contact.create(
        participant=p,
        peer_leader=leader,
        community_id=committee.community_id,  # type: ignore[attr-defined]
        occurred_at=datetime.now(UTC) - timedelta(days=2),
        mode="home_visit",
        functions=["being_there"],
    )
    await factories.sign_in(client, coordinator, settings)
    client.cookies.set("lang", "en")
    html = (await client.get("/admin/dashboard")).text
    assert "Being there" in html and "Home visit" in html
    assert "陪伴在身边" not in html and "家访" not in html
