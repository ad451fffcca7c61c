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
