"""Readings on the phone (SPEC 2, "Measurement"): HbA1c, blood pressure (two rows, one date) and
weight, recorded offline from the participant's screen with large inputs, checked by the server's
rules before they are saved, shown in the participant's history with the baseline and the latest
marked."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Measurement, Participant
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    open_synced,
    wait_answered,
    wait_ready,
    wait_synced,
)


async def record(page: Page, marker: str, values: dict[str, str], on: date, source: str) -> None:
    await page.check(f"[name=marker][value={marker}]")
    for name, value in values.items():
        await page.fill(f"#{name}", value)
    await page.fill("#measured_on", on.isoformat())
    await page.check(f"[name=source][value={source}]")
    await page.click("button[type=submit]")


async def test_readings_recorded_offline_are_checked_and_shown_with_baseline_and_latest(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 1)
    pid = str(prog.participants[0].id)
    today = date.today()
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/participants/view?id={pid}")
    await wait_ready(phone)
    await expect(phone.locator("#readings")).to_contain_text("还没有测量记录")
    await phone.click("#reading-link")
    await wait_ready(phone)
    assert await phone.input_value("#participant_id") == pid
    assert await phone.input_value("#measured_on") == today.isoformat()  # today by default
    size = await phone.locator("#hba1c").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 24  # large
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 360

    # Out of the server's range (HbA1c 3–20 %): the field says why, nothing is queued.
    await record(phone, "hba1c", {"hba1c": "25"}, today, "clinic")
    await expect(phone.locator("#err-hba1c")).to_contain_text("3")
    assert await phone.get_attribute("#hba1c", "aria-invalid") == "true"
    # Not in the future either.
    await record(phone, "hba1c", {"hba1c": "8.4"}, today + timedelta(days=2), "clinic")
    await expect(phone.locator("#err-measured_on")).not_to_be_empty()
    assert await idb_count(phone, "outbox") == 0

    await record(phone, "hba1c", {"hba1c": "8.4"}, today - timedelta(days=90), "clinic")
    await expect(phone.locator("#saved a")).to_be_visible()
    await record(phone, "hba1c", {"hba1c": "7.9"}, today - timedelta(days=5), "self_report")
    await record(phone, "bp", {"bp_systolic": "150", "bp_diastolic": "160"}, today, "clinic")
    await expect(phone.locator("#err-bp_diastolic")).not_to_be_empty()  # lower above upper
    await record(phone, "bp", {"bp_systolic": "150", "bp_diastolic": "95"}, today, "clinic")
    await record(phone, "weight", {"weight": "71.5"}, today, "self_report")
    await expect(phone.locator("#weight")).to_have_value("")
    # One blood pressure is two rows: 1 + 1 + 2 + 1 measurements, each a queued mutation.
    assert await idb_count(phone, "measurements") == 5
    assert await idb_count(phone, "outbox") == 5

    await phone.goto(f"{live_server.url}/participants/view?id={pid}")
    await wait_ready(phone)
    hba1c = phone.locator("table[data-marker=hba1c] tbody tr")
    await expect(hba1c).to_have_count(2)
    await expect(hba1c.nth(0)).to_contain_text("7.9")  # newest first
    await expect(hba1c.nth(0)).to_contain_text("最新")
    await expect(hba1c.nth(1)).to_contain_text("8.4")
    await expect(hba1c.nth(1)).to_contain_text("基线")
    await expect(phone.locator("table[data-marker=bp_systolic]")).to_contain_text("150/95")
    await expect(phone.locator("table[data-marker=weight]")).to_contain_text("71.5")

    # The 7.9 was a mistake: voided (a field, never a deletion), it leaves the history, and the
    # 8.4 is the baseline and the latest. Not sent yet, the void rides on its queued creation.
    await hba1c.nth(0).locator("summary").click()
    await hba1c.nth(0).locator("[name=void_reason]").fill("看错了")
    await hba1c.nth(0).locator("form.void button[type=submit]").click()
    await expect(hba1c).to_have_count(1)
    await expect(hba1c.nth(0)).to_contain_text("基线")
    await expect(hba1c.nth(0)).to_contain_text("最新")
    assert await idb_count(phone, "outbox") == 5


async def test_readings_saved_offline_reach_the_server_once_with_their_fields(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 1)
    pid = str(prog.participants[0].id)
    today = date.today()
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/readings/new?participant={pid}")
    await wait_ready(phone)
    await record(phone, "hba1c", {"hba1c": "8.4"}, today - timedelta(days=10), "clinic")
    await record(phone, "bp", {"bp_systolic": "150", "bp_diastolic": "95"}, today, "self_report")
    await expect(phone.locator("#bp_systolic")).to_have_value("")
    # Dated long before the participant enrolled (1 May 2026; 90 days before are allowed): the
    # phone refuses it with the server's rule (tests/e2e/test_app_enrolment_date.py).
    await record(phone, "weight", {"weight": "70"}, date(2026, 1, 15), "clinic")
    await expect(phone.locator("#err-measured_on")).not_to_be_empty()
    assert await idb_count(phone, "outbox") == 3
    # The earliest day the phone allows, but meanwhile the office corrects the enrolment to
    # 1 June: the server refuses what the phone could not know.
    await record(phone, "weight", {"weight": "70"}, date(2026, 1, 31), "clinic")
    assert await idb_count(phone, "outbox") == 4
    await Participant.filter(id=pid).update(enrolled_on=date(2026, 6, 1))
    assert await Measurement.all().count() == 0

    await go_online(phone_context, phone)
    await wait_answered(phone)
    await phone.click("#sync-now")  # a second sync sends nothing again
    await wait_synced(phone)
    rows = await Measurement.filter(participant_id=pid).order_by("marker")
    assert [(r.marker, r.value, r.measured_on, r.source) for r in rows] == [
        ("bp_diastolic", 95, today, "self_report"),
        ("bp_systolic", 150, today, "self_report"),
        ("hba1c", 8.4, today - timedelta(days=10), "clinic"),
    ]
    assert {r.entered_by_id for r in rows} == {prog.leader.id}  # type: ignore[attr-defined]
    # The misdated one was refused, with the reason on its field, in "needs attention".
    await phone.goto(f"{live_server.url}/attention")
    await wait_ready(phone)
    refused = phone.locator("#items .card[data-status=rejected]")
    await expect(refused).to_have_count(1)
    await expect(refused.locator("[data-field=measured_on]")).not_to_be_empty()
    # The history now comes from the server's rows, as pulled.
    await phone.goto(f"{live_server.url}/participants/view?id={pid}")
    await wait_ready(phone)
    await expect(phone.locator("table[data-marker=bp_systolic]")).to_contain_text("150/95")
    await expect(phone.locator("#readings .tag", has_text="等待同步")).to_have_count(0)


async def test_a_weight_reported_on_a_contact_shows_in_the_readings_after_sync(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 1)
    pid = str(prog.participants[0].id)
    await phone.goto(f"{live_server.url}/contacts/new?participant={pid}")
    await wait_ready(phone)
    await phone.fill("#weight_kg", "72.5")
    await phone.click("button[type=submit]")
    await wait_answered(phone)
    await phone.click("#sync-now")  # the derived reading comes with the next pull
    await wait_synced(phone)
    await phone.goto(f"{live_server.url}/participants/view?id={pid}")
    await wait_ready(phone)
    weight = phone.locator("table[data-marker=weight] tbody tr")
    await expect(weight).to_have_count(1)
    await expect(weight).to_contain_text("72.5")
    await expect(weight).to_contain_text("自报")
    # Voided with its contact, not on its own.
    await expect(weight.locator("summary")).to_have_count(0)
