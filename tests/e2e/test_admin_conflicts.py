"""A coordinator resolves, on a phone-sized browser, a conflict that two real pushes made; the
next pull of both devices carries the resolved value."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.async_api import BrowserContext, expect

from server.auth.session import SESSION_COOKIE, create_session
from sync.models import Conflict, Role, User
from tests import factories
from tests.conftest import LiveServer


async def device_client(server: LiveServer, user: User) -> tuple[httpx.AsyncClient, uuid.UUID]:
    device = await factories.device(user, label=f"{user.username} phone")
    token = await create_session(user, server.settings, device_id=device.id)
    client = httpx.AsyncClient(base_url=server.url, cookies={SESSION_COOKIE: token})
    await client.get("/healthz")
    client.headers["x-csrftoken"] = client.cookies.get("csrftoken") or ""
    client.headers["x-peerlog-device"] = str(device.id)
    return client, device.id


async def push(
    client: httpx.AsyncClient, device: uuid.UUID, n: int, pid: Any, **fields: Any
) -> dict[str, Any]:
    body = {
        "device_id": str(device),
        "schema_version": 1,
        "mutations": [
            {
                "mutation_id": n,
                "entity": "participant",
                "id": str(pid),
                "base_version": 1,
                "fields": fields,
            }
        ],
    }
    response = await client.post("/api/sync/push", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


async def pulled_phone(client: httpx.AsyncClient, pid: Any) -> str | None:
    cursor, phone = None, None
    while True:
        body = (
            await client.get("/api/sync/pull", params={"cursor": cursor} if cursor else {})
        ).json()
        for change in body.get("changes", []):
            if change["id"] == str(pid):
                phone = change["fields"].get("phone")
        cursor = body.get("cursor")
        if not body.get("has_more"):
            return phone


async def test_a_conflict_is_resolved_in_the_page(
    live_server: LiveServer, phone_context: BrowserContext
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=committee)
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    p = await factories.participant(committee, leader, phone="13900000000")

    a, a_device = await device_client(live_server, leader)
    b, b_device = await device_client(live_server, volunteer)
    try:
        assert await pulled_phone(a, p.id) == "13900000000"
        assert await pulled_phone(b, p.id) == "13900000000"
        assert (await push(a, a_device, 1, p.id, phone="13911111111"))["status"] == "applied"
        result = await push(b, b_device, 1, p.id, phone="13922222222")
        assert result["status"] == "conflict"

        token = await create_session(coordinator, live_server.settings)
        await phone_context.add_cookies(
            [{"name": SESSION_COOKIE, "value": token, "url": live_server.url}]
        )
        page = await phone_context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(f"{live_server.url}/admin/conflicts")
        await expect(page.locator(".admin-nav .badge")).to_have_text("1")
        await page.locator(f'a[href="/admin/conflicts/{result["conflict_id"]}"]').click()
        row = page.locator('[data-field="phone"]')
        for value in ("13900000000", "13911111111", "13922222222"):
            await expect(row).to_contain_text(value)
        await row.locator('input[value="device"]').check()
        await page.locator("#resolve").click()
        await expect(page.locator("#conflict-status")).to_contain_text(coordinator.display_name)
        await expect(page.locator(".admin-nav .badge")).to_have_count(0)
        assert (await Conflict.get(id=result["conflict_id"])).status == "resolved"
        assert not [e for e in errors if "Content Security Policy" in e]

        assert await pulled_phone(a, p.id) == "13922222222"
        assert await pulled_phone(b, p.id) == "13922222222"
    finally:
        await a.aclose()
        await b.aclose()


async def test_the_dashboard_fits_a_phone_and_the_roster_prints(
    live_server: LiveServer, phone_context: BrowserContext
) -> None:
    community = await factories.community()
    committee = await factories.committee(community, name="Willow Lane")
    leader = await factories.user(Role.PEER_LEADER, community=community)
    for _ in range(5):
        await factories.participant(committee, leader)
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    token = await create_session(coordinator, live_server.settings)
    await phone_context.add_cookies(
        [{"name": SESSION_COOKIE, "value": token, "url": live_server.url}]
    )
    page = await phone_context.new_page()
    await page.goto(f"{live_server.url}/admin/dashboard")
    # Nothing wider than the 360 px screen: charts scale, wide tables scroll inside their box.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    await expect(page.locator("svg.bars").first).to_be_visible()

    await page.goto(f"{live_server.url}/admin/roster?committee={committee.id}")
    await page.emulate_media(media="print")
    await expect(page.locator(".print-header")).to_be_visible()
    await expect(page.locator(".print-header")).to_contain_text("Willow Lane")
    await expect(page.locator(".admin-nav")).to_be_hidden()
    pdf_page = await phone_context.new_page()
    await pdf_page.goto(f"{live_server.url}/admin/roster?committee={committee.id}")
    await expect(pdf_page.locator("#roster tbody tr")).to_have_count(5)
