"""The distress questions on the phone (SPEC 2, "Assessment"): the instrument the phone pulled
(DDS-2 built in), both items on one short screen with large answer buttons, the time point chosen
from whether a baseline exists, the score and its meaning shown once saved, offline; on the
server once, scored there."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Assessment
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    open_synced,
    wait_answered,
    wait_ready,
    wait_synced,
)


async def answer(page: Page, item: str, value: int) -> None:
    await page.click(f".choice:has(input[name='item:{item}'][value='{value}'])")


async def test_distress_asked_offline_shows_the_score_and_reaches_the_server_once(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 1)
    pid = str(prog.participants[0].id)
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/participants/view?id={pid}")
    await wait_ready(phone)
    await phone.click("#assess-link")
    await wait_ready(phone)
    await expect(phone.locator("h1")).to_contain_text("DDS-2")
    assert await phone.is_checked("[name=time_point][value=baseline]")  # no baseline yet
    buttons = phone.locator("#items .choice")
    await expect(buttons).to_have_count(12)  # two items, answers 1–6
    heights = await buttons.evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
    assert min(heights) >= 56
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 360
    await expect(phone.locator("#items")).to_contain_text("非常严重的问题")

    # Every item needs an answer: the one left out says so, nothing is queued.
    await answer(phone, "dds2_1", 4)
    await phone.click("button[type=submit]")
    await expect(phone.locator("#err-item-dds2_2")).not_to_be_empty()
    assert await idb_count(phone, "outbox") == 0
    await answer(phone, "dds2_2", 3)
    await phone.click("button[type=submit]")
    await expect(phone.locator("#result")).to_be_visible()
    await expect(phone.locator("#score")).to_have_text("3.5")
    await expect(phone.locator("#meaning")).to_contain_text("中度及以上")

    # The follow-up: chosen by itself now that a baseline exists.
    await phone.goto(f"{live_server.url}/assessments/new?participant={pid}&instrument=dds2")
    await wait_ready(phone)
    assert await phone.is_checked("[name=time_point][value=follow_up]")
    await answer(phone, "dds2_1", 2)
    await answer(phone, "dds2_2", 1)
    await phone.click("button[type=submit]")
    await expect(phone.locator("#score")).to_have_text("1.5")
    await expect(phone.locator("#meaning")).to_contain_text("低于")
    assert await idb_count(phone, "outbox") == 2

    await go_online(phone_context, phone)
    await wait_answered(phone)
    await phone.click("#sync-now")
    await wait_synced(phone)
    rows = await Assessment.filter(participant_id=pid).order_by("-score")
    assert [(r.instrument_id, r.time_point, r.answers, r.score) for r in rows] == [  # type: ignore[attr-defined]
        ("dds2", "baseline", {"dds2_1": 4, "dds2_2": 3}, 3.5),
        ("dds2", "follow_up", {"dds2_1": 2, "dds2_2": 1}, 1.5),
    ]
    await phone.goto(f"{live_server.url}/participants/view?id={pid}")
    await wait_ready(phone)
    cards = phone.locator("#assessments .card")
    await expect(cards).to_have_count(2)
    await expect(cards.filter(has_text="基线")).to_contain_text("3.5")
    await expect(cards.filter(has_text="随访")).to_contain_text("1.5")
