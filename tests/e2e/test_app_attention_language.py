""" "Needs attention" says why the server did not accept a record in the phone's language, with
the numbers of the rule and the field in words: Chinese on a Chinese phone, English on an
English one."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page

from sync.models import Contact
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE
from tests.e2e.test_app_support import (
    open_synced,
    queue_refused_reading,
    wait_answered,
    wait_ready,
)


async def reject_a_reading(context: BrowserContext, page: Page, server: LiveServer) -> str:
    """Queue a contact with a glucose reading the server refuses (as an older version of the app
    could), sync it, and return the text of its "needs attention" card."""
    person = (await open_synced(context, page, server)).participants[0]
    await queue_refused_reading(page, str(person.id))
    await page.evaluate("() => window.dispatchEvent(new Event('online'))")
    await wait_answered(page)
    await page.goto(f"{server.url}/attention")
    await wait_ready(page)
    card = page.locator("#items [data-status=rejected]")
    assert await card.count() == 1
    assert await Contact.filter(participant_id=person.id).count() == 0  # type: ignore[call-arg]
    return await card.locator("[data-field=glucose_mmol]").text_content() or ""


async def test_a_chinese_phone_shows_why_in_chinese(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    text = await reject_a_reading(phone_context, phone, live_server)
    assert "应在 1 到 35 mmol/L 之间" in text
    assert "血糖" in text  # the field in words; its wire name stays for whoever helps
    assert "must be" not in text and "50" not in text


async def test_an_english_phone_shows_why_in_english(
    live_server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context(**PHONE, locale="en-GB")  # type: ignore[arg-type]
    try:
        text = await reject_a_reading(context, await context.new_page(), live_server)
    finally:
        await context.close()
    assert "must be between 1 and 35 mmol/L" in text
    assert "Glucose" in text and "应在" not in text and "50" not in text


async def test_a_refusal_follows_the_phone_into_another_language_offline(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    assert "应在 1 到 35 mmol/L 之间" in await reject_a_reading(phone_context, phone, live_server)
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/settings")
    await wait_ready(phone)
    await phone.click("a[href^='/lang/'][lang=en]")
    await phone.wait_for_function("() => document.documentElement.lang === 'en'")
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    text = await phone.locator("#items [data-field=glucose_mmol]").text_content() or ""
    assert "must be between 1 and 35 mmol/L" in text and "应在" not in text
