"""The contact form: sensible defaults, the server's rules checked before saving, and an urgent
referral suggested for dangerous readings."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.async_api import BrowserContext, Page

from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    idb_count,
    program,
    sign_in_with_cookie,
    wait_ready,
    wait_synced,
)


async def test_the_form_defaults_checks_like_the_server_and_suggests_urgent_referral(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(1)
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_synced(phone)
    await phone.goto(f"{live_server.url}/contacts/new?participant={prog.participants[0].id}")
    await wait_ready(phone)

    assert (
        await phone.input_value("#follow_up_on") == (date.today() + timedelta(days=14)).isoformat()
    )
    assert await phone.input_value("#occurred_at") != ""
    assert await phone.input_value("#mode") == "home_visit"
    assert await phone.locator("[name=functions]").count() == 5
    assert await phone.locator("#no-advice").is_visible()

    hint = phone.locator("#urgent-hint")
    assert not await hint.is_visible()
    await phone.fill("#glucose_mmol", "17.5")
    assert await hint.is_visible()
    await phone.fill("#glucose_mmol", "6.1")
    assert not await hint.is_visible()
    await phone.fill("#bp_systolic", "185")
    await phone.fill("#bp_diastolic", "95")
    assert await hint.is_visible()

    # Out of the server's range: nothing is saved, the field says why.
    await phone.fill("#glucose_mmol", "50")
    await phone.click("button[type=submit]")
    assert await phone.text_content("#err-glucose_mmol")
    assert await phone.get_attribute("#glucose_mmol", "aria-invalid") == "true"
    assert await idb_count(phone, "outbox") == 0

    await phone.fill("#glucose_mmol", "5.5")
    await phone.select_option("#mode", "phone_call")
    await phone.click("button[type=submit]")
    await phone.wait_for_selector("#saved a")
    assert await idb_count(phone, "contacts") == 1
    # The next contact starts from the mode used last.
    await phone.reload()
    await wait_ready(phone)
    assert await phone.input_value("#mode") == "phone_call"
