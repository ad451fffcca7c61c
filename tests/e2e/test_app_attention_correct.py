"""A reading the server refused is corrected where "needs attention" shows it: the refused field
with the server's reason and an input holding what was sent. Saving queues the record again under
its id; the item stays, marked as waiting, until the server takes it, and the server gets the
record once, with the corrected value."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Contact, GroupActivity, Measurement, Participant
from tests.conftest import LiveServer
from tests.e2e.test_app_readings import record
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    open_synced,
    queue_refused_reading,
    queue_refused_weight,
    wait_answered,
    wait_ready,
    wait_synced,
)


async def sync(page: Page) -> None:
    await page.evaluate("() => window.dispatchEvent(new Event('online'))")
    await wait_answered(page)


async def test_a_reading_refused_for_its_value_is_corrected_in_place_and_reaches_the_server_once(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    person = (await open_synced(phone_context, phone, live_server)).participants[0]
    await queue_refused_weight(phone, str(person.id))
    await sync(phone)
    assert await Measurement.all().count() == 0
    assert await idb_count(phone, "attention") == 1

    await phone_context.set_offline(True)  # to see the correction wait
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    card = phone.locator("#items .card[data-status=rejected]")
    value = card.locator("form.fix input[name=value]")
    assert await value.input_value() == "500"  # what was sent
    await expect(card.locator("form.fix [data-field=value] .reason")).to_contain_text("300")
    await value.fill("350")  # still too heavy: the phone says so before anything is queued
    await card.locator("form.fix button[type=submit]").click()
    await expect(card.locator("form.fix .error")).to_contain_text("300")
    assert await idb_count(phone, "outbox") == 0

    await value.fill("70.5")
    await card.locator("form.fix button[type=submit]").click()
    await expect(card).to_have_attribute("data-corrected", "yes")
    await expect(card.locator("form.fix")).to_have_count(0)
    assert await idb_count(phone, "outbox") == 1
    assert await idb_count(phone, "attention") == 1  # until the server takes it

    await go_online(phone_context, phone)
    await wait_answered(phone)
    await phone.click("#sync-now")  # a second sync sends nothing again
    await wait_synced(phone)
    rows = await Measurement.filter(participant_id=person.id)  # type: ignore[call-arg]
    assert [(r.marker, r.value, r.version) for r in rows] == [("weight", 70.5, 1)]
    assert await idb_count(phone, "attention") == 0
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    await expect(phone.locator("#items .empty")).to_be_visible()


async def test_a_blood_pressure_refused_for_its_day_is_corrected_once_for_both_rows(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    person = (await open_synced(phone_context, phone, live_server)).participants[0]
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/readings/new?participant={person.id}")
    await wait_ready(phone)
    # The earliest day the phone allows (the participant enrolled on 1 May 2026, 90 days before
    # are allowed), but meanwhile the office corrects the enrolment to 1 June: the server refuses
    # what the phone could not know.
    await record(
        phone, "bp", {"bp_systolic": "150", "bp_diastolic": "95"}, date(2026, 1, 31), "clinic"
    )
    await expect(phone.locator("#saved")).not_to_be_empty()
    await Participant.filter(id=person.id).update(enrolled_on=date(2026, 6, 1))
    await go_online(phone_context, phone)
    await wait_answered(phone)
    assert await idb_count(phone, "attention") == 2

    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    day = phone.locator("form.fix input[name=measured_on]")
    await expect(day).to_have_count(2)
    assert await day.nth(0).input_value() == "2026-01-31"
    await expect(
        phone.locator("form.fix [data-field=measured_on] .reason").nth(0)
    ).not_to_be_empty()
    # Still too early for the server (the phone allows it): refused again, the new refusals
    # take the corrected items' place.
    await day.nth(0).fill("2026-02-20")
    await phone.locator("form.fix button[type=submit]").nth(0).click()
    await expect(phone.locator("#items .card[data-corrected=yes]")).to_have_count(2)
    await go_online(phone_context, phone)
    await wait_answered(phone)
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    await expect(day).to_have_count(2)
    assert await day.nth(1).input_value() == "2026-02-20"
    assert await idb_count(phone, "attention") == 2
    assert await Measurement.all().count() == 0

    corrected = date.today() - timedelta(days=2)
    await day.nth(0).fill(corrected.isoformat())
    await phone.locator("form.fix button[type=submit]").nth(0).click()
    # The other half of the pair is corrected with it.
    await expect(phone.locator("#items .card[data-corrected=yes]")).to_have_count(2)
    assert await idb_count(phone, "outbox") == 2

    await go_online(phone_context, phone)
    await wait_answered(phone)
    rows = await Measurement.filter(participant_id=person.id).order_by("marker")  # type: ignore[call-arg]
    assert [(r.marker, r.value, r.measured_on, r.version) for r in rows] == [
        ("bp_diastolic", 95, corrected, 1),
        ("bp_systolic", 150, corrected, 1),
    ]
    assert await idb_count(phone, "attention") == 0


async def test_a_contact_refused_for_its_glucose_is_corrected_in_place(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    person = (await open_synced(phone_context, phone, live_server)).participants[0]
    await queue_refused_reading(phone, str(person.id))
    await sync(phone)
    await phone_context.set_offline(True)  # to see the correction wait
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    glucose = phone.locator("form.fix input[name=glucose_mmol]")
    assert await glucose.input_value() == "50"
    await glucose.fill("5.6")
    await phone.click("form.fix button[type=submit]")
    await expect(phone.locator("#items .card[data-corrected=yes]")).to_have_count(1)

    await go_online(phone_context, phone)
    await wait_answered(phone)
    stored = await Contact.get(participant_id=person.id)  # type: ignore[call-arg]
    assert (stored.glucose_mmol, stored.version) == (5.6, 1)
    assert await idb_count(phone, "attention") == 0


async def test_a_group_activity_refused_for_a_headcount_is_corrected_in_place(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server)
    # As an older version of the app could: more residents than the server's limit (5000).
    await phone.evaluate(
        """async (gid) => {
            const url = performance.getEntriesByType("resource")
              .map((e) => e.name).find((n) => n.includes("/static/js/outbox.js?v="));
            const { save } = await import(url);
            await save("group_activity", crypto.randomUUID(), {group_id: gid,
              channel: "neighbourhood_activity", occurred_at: new Date().toISOString(),
              participants_count: 3, residents_count: 6000}, 0);
        }""",
        str(prog.group.id),
    )
    await sync(phone)
    await phone_context.set_offline(True)  # to see the correction wait
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    residents = phone.locator("form.fix input[name=residents_count]")
    assert await residents.input_value() == "6000"
    await residents.fill("60")
    # A sync page arriving while the correction is typed redraws nothing under the fingers; the
    # screen is redrawn once the user leaves the field, what was typed kept.
    await residents.evaluate("(input) => { window.typing = input; }")
    await phone.evaluate("() => document.dispatchEvent(new Event('peerlog:data'))")
    await phone.wait_for_timeout(500)  # what a redraw would need to replace the form
    assert await phone.evaluate(
        "() => window.typing.isConnected && document.activeElement === window.typing"
    )
    await residents.evaluate("(input) => input.blur()")
    await phone.wait_for_function("() => !window.typing.isConnected")
    await expect(residents).to_have_value("60")
    await phone.click("form.fix button[type=submit]")
    await expect(phone.locator("#items .card[data-corrected=yes]")).to_have_count(1)

    await go_online(phone_context, phone)
    await wait_answered(phone)
    stored = await GroupActivity.get(group_id=prog.group.id)  # type: ignore[call-arg]
    assert (stored.participants_count, stored.residents_count, stored.version) == (3, 60, 1)
    assert await idb_count(phone, "attention") == 0
