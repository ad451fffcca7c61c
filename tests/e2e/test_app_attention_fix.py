"""A contact the server refused is corrected from "needs attention" in one tap: the form opens
with what was entered and why it was refused, and saving sends it again under the same id."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Contact
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    idb_count,
    open_synced,
    queue_refused_reading,
    wait_answered,
    wait_ready,
)


async def test_a_refused_contact_is_corrected_and_sent_again_under_its_id(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    person = (await open_synced(phone_context, phone, live_server)).participants[0]
    await queue_refused_reading(phone, str(person.id))
    await phone.evaluate("() => window.dispatchEvent(new Event('online'))")
    await wait_answered(phone)
    refused_id = await phone.evaluate(
        """() => new Promise((resolve) => { const r = indexedDB.open("peerlog");
             r.onsuccess = () => { const q = r.result.transaction("attention")
               .objectStore("attention").getAll();
               q.onsuccess = () => { r.result.close(); resolve(q.result[0].id); }; }; })"""
    )

    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    await phone.click("#items [data-status=rejected] a[href^='/contacts/new?fix=']")
    await wait_ready(phone)
    await expect(phone.locator("#fixing")).to_be_visible()
    assert await phone.input_value("#glucose_mmol") == "50"
    assert await phone.input_value("#participant_id") == str(person.id)
    await expect(phone.locator("#err-glucose_mmol")).to_contain_text("35")  # why, beside it

    await phone.fill("#glucose_mmol", "5.6")
    await phone.click("button[type=submit]")
    await phone.wait_for_selector("#saved a")
    assert await idb_count(phone, "attention") == 0
    await phone.evaluate("() => window.dispatchEvent(new Event('online'))")
    await wait_answered(phone)

    stored = await Contact.get(id=refused_id)
    assert stored.participant_id == person.id and stored.glucose_mmol == 5.6  # type: ignore[attr-defined]
    assert await Contact.filter(participant_id=person.id).count() == 1  # type: ignore[call-arg]
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    await expect(phone.locator("#items .empty")).to_be_visible()
