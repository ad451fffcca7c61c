"""Offline, the contact form refuses an out-of-range reading with the server's rules: the
catalogue ``validate.js`` imports came from the service worker's cache, not the network."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page

from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    idb_count,
    program,
    sign_in_with_cookie,
    wait_controlled,
    wait_ready,
    wait_synced,
)


async def test_offline_the_form_refuses_an_out_of_range_reading_by_the_servers_rules(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(1)
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)

    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/contacts/new?participant={prog.participants[0].id}")
    await wait_ready(phone)
    cached = await phone.evaluate(
        """async () => {
            const keys = await Promise.all((await caches.keys()).map(
                async (name) => (await (await caches.open(name)).keys()).map((r) => r.url)));
            return keys.flat().filter((url) => url.includes("/static/js/rules.js?v="));
        }"""
    )
    assert len(cached) == 1, "the service worker stored the server's rules at install"

    await phone.check("[name=functions][value=being_there]")
    await phone.fill("#duration_min", "1441")  # the server's limit is 1440 minutes
    await phone.fill("#glucose_mmol", "35.5")  # and 35 mmol/L
    await phone.click("button[type=submit]")
    assert await phone.text_content("#err-duration_min")
    assert await phone.text_content("#err-glucose_mmol")
    assert await phone.get_attribute("#glucose_mmol", "aria-invalid") == "true"
    assert await idb_count(phone, "outbox") == 0

    hint = phone.locator("#urgent-hint")
    await phone.fill("#glucose_mmol", "3.8")  # below the server's 3.9: an urgent referral
    assert await hint.is_visible()
    await phone.fill("#glucose_mmol", "3.9")
    assert not await hint.is_visible()
