"""A contact logged by mistake is voided from the participant's timeline by its author, with a
reason: a field the server keeps (SPEC 2), never a deletion; offline too, before it ever synced."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Contact, Mutation
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    open_synced,
    record_meeting,
    wait_answered,
    wait_ready,
)


async def log_and_void(page: Page, server: LiveServer, participant_id: str, why: str) -> None:
    await page.goto(f"{server.url}/contacts/new?participant={participant_id}")
    await wait_ready(page)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#saved a")
    await page.goto(f"{server.url}/participants/view?id={participant_id}")
    await wait_ready(page)
    await page.click("#timeline [data-action=void]")
    await page.click("#timeline form.void button[type=submit]")  # no reason yet: refused
    await expect(page.locator("#timeline form.void .error")).not_to_be_empty()
    await page.fill("#timeline form.void input[name=void_reason]", why)
    await page.click("#timeline form.void button[type=submit]")
    await expect(page.locator("#timeline .empty")).to_be_visible()  # off the timeline


async def test_a_synced_contact_is_voided_with_its_reason(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    person = (await open_synced(phone_context, phone, live_server)).participants[0]
    await phone.goto(f"{live_server.url}/contacts/new?participant={person.id}")
    await wait_ready(phone)
    await phone.click("button[type=submit]")
    await phone.wait_for_selector("#saved a")
    await wait_answered(phone)
    logged = await Contact.get(participant_id=person.id)  # type: ignore[call-arg]
    assert not logged.voided

    await phone.goto(f"{live_server.url}/participants/view?id={person.id}")
    await wait_ready(phone)
    await phone.click("#timeline [data-action=void]")
    await phone.fill("#timeline form.void input[name=void_reason]", "wrong person")
    await phone.click("#timeline form.void button[type=submit]")
    await expect(phone.locator("#timeline .empty")).to_be_visible()
    await phone.evaluate("() => window.dispatchEvent(new Event('online'))")
    await wait_answered(phone)
    await logged.refresh_from_db()
    assert (logged.voided, logged.void_reason, logged.version) == (True, "wrong person", 2)


async def test_a_contact_voided_before_it_synced_reaches_the_server_once_and_void(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    person = (await open_synced(phone_context, phone, live_server)).participants[0]
    await phone_context.set_offline(True)
    await log_and_void(phone, live_server, str(person.id), "logged twice")
    assert await idb_count(phone, "outbox") == 1  # the void went into the queued creation

    await go_online(phone_context, phone)
    await wait_answered(phone)
    stored = await Contact.get(participant_id=person.id)  # type: ignore[call-arg]
    assert (stored.voided, stored.void_reason, stored.version) == (True, "logged twice", 1)
    assert await Mutation.filter(record_id=stored.id).count() == 1


async def test_a_group_meeting_voided_by_its_recorder_is_void_for_every_attendee(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 2)
    first, second = prog.participants
    await record_meeting(phone, live_server, str(prog.group.id))
    await wait_answered(phone)
    assert await Contact.filter(meeting_id__isnull=False, voided=False).count() == 2

    await phone.goto(f"{live_server.url}/participants/view?id={first.id}")
    await wait_ready(phone)
    # The attendee's own contact counted from the meeting has no Void: the meeting has.
    assert await phone.locator("#timeline [data-action=void]").count() == 1
    await phone.click("#timeline [data-action=void]")
    await phone.fill("#timeline form.void input[name=void_reason]", "wrong day")
    await phone.click("#timeline form.void button[type=submit]")
    await expect(phone.locator("#saved")).not_to_be_empty()  # the void is queued
    await phone.evaluate("() => window.dispatchEvent(new Event('online'))")
    await wait_answered(phone)
    # Void for both attendees, through the engine's meeting expansion.
    counted = await Contact.filter(participant_id__in=[first.id, second.id]).values_list(
        "voided", flat=True
    )
    assert counted and all(counted)


async def test_a_sync_arriving_while_the_reason_is_typed_does_not_close_the_form(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    person = (await open_synced(phone_context, phone, live_server)).participants[0]
    await phone.goto(f"{live_server.url}/contacts/new?participant={person.id}")
    await wait_ready(phone)
    await phone.click("button[type=submit]")
    await phone.wait_for_selector("#saved a")
    await phone.goto(f"{live_server.url}/participants/view?id={person.id}")
    await wait_ready(phone)
    await phone.click("#timeline [data-action=void]")
    await phone.fill("#timeline form.void input[name=void_reason]", "wrong pers")
    # What the sync client announces after each page it brings.
    await phone.evaluate("() => document.dispatchEvent(new Event('peerlog:data'))")
    await expect(phone.locator("#timeline form.void input[name=void_reason]")).to_have_value(
        "wrong pers"
    )
    await phone.click("#timeline form.void button[type=button]")  # cancel: now it redraws
    await expect(phone.locator("#timeline form.void")).to_be_hidden()
