"""Past group activities are listed on the activities screen, newest first, and one logged by
mistake is voided there by its author with a reason: a field the server keeps (SPEC 2), never a
deletion; offline too, before it ever synced (one record on the server, void from the start)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, BrowserContext, Page, expect

from sync.models import Community, GroupActivity, Mutation, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    open_synced,
    program,
    sign_in_with_cookie,
    wait_answered,
    wait_controlled,
    wait_ready,
    wait_synced,
)


async def log_activity(page: Page, server: LiveServer, reached: str, when: datetime) -> None:
    await page.goto(f"{server.url}/activities/new")
    await wait_ready(page)
    await page.fill("#occurred_at", when.strftime("%Y-%m-%dT%H:%M"))
    await page.fill("#participants_count", reached)
    await page.click("#activity button[type=submit]")
    await expect(page.locator("#saved")).not_to_be_empty()


async def void_first(page: Page, why: str) -> None:
    past = page.locator("#past")
    await past.locator("[data-action=void]").first.click()
    await past.locator("form.void button[type=submit]").first.click()  # no reason yet: refused
    await expect(past.locator("form.void .error").first).not_to_be_empty()
    await past.locator("form.void input[name=void_reason]").first.fill(why)
    await past.locator("form.void button[type=submit]").first.click()
    await expect(page.locator("#voided")).not_to_be_empty()


async def test_a_synced_activity_is_listed_newest_first_and_voided_with_its_reason(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 2)
    now = datetime.now()
    await log_activity(phone, live_server, "7", now - timedelta(days=3))
    await log_activity(phone, live_server, "12", now - timedelta(hours=1))
    await wait_answered(phone)
    await phone.goto(f"{live_server.url}/activities/new")
    await wait_ready(phone)
    cards = phone.locator("#past .card")
    await expect(cards).to_have_count(2)
    await expect(cards.nth(0)).to_contain_text("12")  # newest first
    await expect(cards.nth(0)).to_contain_text("微信群活动")
    await expect(cards.nth(0)).to_contain_text(prog.group.name)  # type: ignore[attr-defined]
    await expect(cards.nth(1)).to_contain_text("7")

    await void_first(phone, "记错了日期")
    await expect(cards).to_have_count(1)  # off the list
    await expect(cards.nth(0)).to_contain_text("7")
    await phone.evaluate("() => window.dispatchEvent(new Event('online'))")
    await wait_answered(phone)
    voided = await GroupActivity.get(participants_count=12)  # type: ignore[call-arg]
    assert (voided.voided, voided.void_reason, voided.version) == (True, "记错了日期", 2)
    kept = await GroupActivity.get(participants_count=7)  # type: ignore[call-arg]
    assert not kept.voided
    # After the sync, the list still leaves it out.
    await phone.goto(f"{live_server.url}/activities/new")
    await wait_ready(phone)
    await expect(cards).to_have_count(1)


async def test_an_activity_voided_before_it_synced_reaches_the_server_once_and_void(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    await open_synced(phone_context, phone, live_server, 1)
    await phone_context.set_offline(True)
    await log_activity(phone, live_server, "5", datetime.now())
    await expect(phone.locator("#past .card .tag")).to_have_count(1)  # waiting to sync
    await void_first(phone, "logged twice")
    await expect(phone.locator("#past .empty")).to_be_visible()
    assert await idb_count(phone, "outbox") == 1  # the void went into the queued creation

    await go_online(phone_context, phone)
    await wait_answered(phone)
    stored = await GroupActivity.get(participants_count=5)  # type: ignore[call-arg]
    assert (stored.voided, stored.void_reason, stored.version) == (True, "logged twice", 1)
    assert await Mutation.filter(record_id=stored.id).count() == 1


async def test_another_leaders_activity_is_listed_but_voided_only_by_its_author_or_staff(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page, browser: Browser
) -> None:
    prog = await program(1)
    community = await Community.get(id=prog.group.community_id)  # type: ignore[attr-defined]
    other = await factories.user(Role.PEER_LEADER, community=community)
    # A co-leader of the group logged it on their phone: this leader sees it, it is not theirs.
    theirs = await factories.group_activity(
        other,
        "wechat_group",
        datetime.now(UTC) - timedelta(days=2),
        group=prog.group,
        participants_count=4,
    )
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    await phone.goto(f"{live_server.url}/activities/new")
    await wait_ready(phone)
    await expect(phone.locator("#past .card")).to_have_count(1)
    await expect(phone.locator("#past .card")).to_contain_text("4")
    await expect(phone.locator("#past [data-action=void]")).to_have_count(0)

    # The community's coordinator may void it, on their own phone.
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    context = await browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[arg-type]
    try:
        context.set_default_timeout(15_000)
        page = await context.new_page()
        await sign_in_with_cookie(context, live_server, coordinator)
        await page.goto(f"{live_server.url}/")
        await wait_controlled(page)
        await wait_synced(page)
        await page.goto(f"{live_server.url}/activities/new")
        await wait_ready(page)
        await void_first(page, "重复记录")
        await page.evaluate("() => window.dispatchEvent(new Event('online'))")
        await wait_answered(page)
    finally:
        await context.close()
    await theirs.refresh_from_db()
    assert (theirs.voided, theirs.void_reason, theirs.version) == (True, "重复记录", 2)
