"""Phones without Background Sync (every iPhone): records leave when the app comes back to the
foreground, a banner says when they have waited on the phone for more than a day, and an iPhone
outside the home screen is shown how to add Peerlog there. Also the optional APIs older phones
lack, the "needs a connection" page and the notice for browsers too old for Peerlog.

The page's clock is Playwright's and paused, so no timer of the app (its retry backoff, its
periodic sync) can do what a test says the foreground does; the network "goes away" by refusing
the sync API, for the page and its service worker alike.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route

from sync.models import Contact
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE
from tests.e2e.test_app_screens import AXE
from tests.e2e.test_app_support import open_synced, wait_ready, wait_synced, waiting
from tests.e2e.test_offline import log_contact

SYNC_API = "**/api/sync/**"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# Safari on iOS, in a browser tab: it alone has navigator.standalone, false outside the home screen.
IOS_TAB = "Object.defineProperty(Navigator.prototype, 'standalone', {get: () => false});"
IOS_HOME_SCREEN = "Object.defineProperty(Navigator.prototype, 'standalone', {get: () => true});"


async def pause_clock(page: Page) -> None:
    """The page's timers stop (its clock reads NOW until a test moves it)."""
    await page.clock.install(time=NOW - timedelta(minutes=1))
    await page.clock.pause_at(NOW)


async def refuse(route: Route) -> None:
    await route.abort("internetdisconnected")


async def contacts_on_server(prog_leader: object, expected: int) -> int:
    """The server's count of the leader's contacts once it is ``expected`` (or after 15 s)."""
    for _ in range(150):
        n = await Contact.filter(peer_leader=prog_leader).count()
        if n == expected:
            return n
        await asyncio.sleep(0.1)
    return await Contact.filter(peer_leader=prog_leader).count()


async def save_without_network(context: BrowserContext, page: Page, server: LiveServer) -> None:
    """A contact logged while the sync API cannot be reached: it waits on the phone."""
    await context.route(SYNC_API, refuse)
    await log_contact(page, server.url, 1)
    assert await waiting(page, 1) == 1
    await page.wait_for_selector("#status[data-online=no]")  # the try after the save failed


@pytest.mark.parametrize(
    "event",
    [
        "document.dispatchEvent(new Event('visibilitychange'))",
        "window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))",
    ],
    ids=["visibilitychange", "pageshow-from-bfcache"],
)
async def test_waiting_records_leave_when_the_app_comes_back_to_the_foreground(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page, event: str
) -> None:
    await pause_clock(phone)
    prog = await open_synced(phone_context, phone, live_server)
    await save_without_network(phone_context, phone, live_server)
    await phone_context.unroute(SYNC_API)
    assert await Contact.filter(peer_leader=prog.leader).count() == 0

    # Back from another app or the lock screen (the page is visible again).
    await phone.evaluate(f"() => {event}")
    assert await contacts_on_server(prog.leader, 1) == 1
    await wait_synced(phone)


async def test_a_banner_says_when_records_have_waited_on_the_phone_more_than_a_day(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    await pause_clock(phone)
    prog = await open_synced(phone_context, phone, live_server)
    await save_without_network(phone_context, phone, live_server)
    assert await phone.is_hidden("#waited")  # a few minutes is normal

    await phone.clock.set_system_time(NOW + timedelta(hours=25))
    await phone.click("#sync-now")  # still no network
    await phone.wait_for_selector("#waited:not([hidden])")
    banner = await phone.text_content("#waited") or ""
    assert "记录还留在这部手机上" in banner and "有 1 条记录" in banner
    assert await phone.get_attribute("#waited", "role") == "alert"

    # Every screen says it, in the reader's language.
    await phone.goto(f"{live_server.url}/lang/en?next=/participants")
    await wait_ready(phone)
    await phone.wait_for_selector("#waited:not([hidden])")
    banner = await phone.text_content("#waited") or ""
    assert "Records are waiting on this phone" in banner and "1 records have waited" in banner

    await phone_context.unroute(SYNC_API)
    await phone.click("#sync-now")
    assert await contacts_on_server(prog.leader, 1) == 1
    await phone.wait_for_selector("#waited", state="hidden")


async def test_an_iphone_outside_the_home_screen_is_shown_how_to_add_it_and_again_while_records_wait(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    await phone.add_init_script(IOS_TAB)
    await open_synced(phone_context, phone, live_server)
    guide = phone.locator("#home-guide")
    await guide.wait_for(state="visible")
    assert "把 Peerlog 添加到主屏幕" in (await guide.text_content() or "")
    assert await guide.locator("ol li").count() == 3
    assert await guide.locator("svg, img").count() == 3  # a picture for each step
    assert await guide.locator("[data-g=waiting]").is_hidden()

    # Not in the home-screen app, nor on a phone that is no iPhone (no navigator.standalone).
    for script in (IOS_HOME_SCREEN, None):
        other = await phone_context.new_page()
        if script:
            await other.add_init_script(script)
        await other.goto(f"{live_server.url}/")
        await wait_ready(other)
        await wait_synced(other)
        assert await other.is_hidden("#home-guide")
        await other.close()

    await guide.locator("button").click()  # "Not now"
    await guide.wait_for(state="hidden")
    await phone.reload()
    await wait_ready(phone)
    await wait_synced(phone)
    assert await guide.is_hidden()

    # Records waiting on the phone: the guide is back, and says how many.
    await save_without_network(phone_context, phone, live_server)
    await phone.goto(f"{live_server.url}/")
    await guide.wait_for(state="visible")
    assert "1 条记录等待发送" in (await guide.locator("[data-g=waiting]").text_content() or "")
    # Chromium has Background Sync, and Settings says so (WebKit's case is in test_webkit.py).
    await phone.goto(f"{live_server.url}/settings")
    await wait_ready(phone)
    assert "可以在后台发送" in (await phone.text_content("#background") or "")


async def test_a_phone_without_crypto_random_uuid_still_logs_and_syncs_contacts(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    await phone_context.add_init_script("delete Crypto.prototype.randomUUID;")
    prog = await open_synced(phone_context, phone, live_server)
    assert await phone.evaluate("() => typeof crypto.randomUUID") == "undefined"
    await log_contact(phone, live_server.url, 1)
    assert await contacts_on_server(prog.leader, 1) == 1
    await wait_synced(phone)


@pytest.mark.parametrize(
    ("lang", "title", "back"),
    [
        ("zh-CN", "这个页面需要网络连接", "返回今天"),
        ("en", "This page needs a connection", "Back to Today"),
    ],
)
async def test_a_page_that_needs_the_network_opened_offline_says_so_with_a_way_back(
    live_server: LiveServer,
    phone_context: BrowserContext,
    phone: Page,
    lang: str,
    title: str,
    back: str,
) -> None:
    await open_synced(phone_context, phone, live_server)
    await phone.goto(f"{live_server.url}/lang/{lang}?next=/settings")
    await wait_ready(phone)
    await phone_context.set_offline(True)
    await phone.click("a[href='/account']")
    await phone.wait_for_selector("#needs-connection")
    assert phone.url.endswith("/account")
    assert await phone.text_content("h1") == title
    await phone_context.set_offline(False)
    await phone.click("#needs-connection a[href='']")  # "Try again": the network answers now
    await phone.wait_for_selector("#needs-connection", state="detached")
    assert phone.url.endswith("/account")
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/account")
    await phone.click(f"text={back}")
    await phone.wait_for_url(f"{live_server.url}/")
    await wait_ready(phone)


@pytest.mark.parametrize(
    ("locale", "words"), [("zh-CN", "浏览器版本太旧"), ("en", "This browser is too old")]
)
async def test_a_browser_too_old_for_peerlog_is_told_so(
    live_server: LiveServer, phone_context: BrowserContext, locale: str, words: str
) -> None:
    context = await phone_context.browser.new_context(locale=locale)  # type: ignore[union-attr]
    try:
        page = await context.new_page()
        await page.goto(f"{live_server.url}/signin")
        assert await page.is_hidden("#old-browser")
        # A browser from before IndexedDB, as far as the page can tell.
        await page.add_init_script(
            "Object.defineProperty(window, 'indexedDB', {value: undefined});"
        )
        await page.goto(f"{live_server.url}/signin")
        await page.wait_for_selector("#old-browser:not([hidden])")
        assert words in (await page.text_content("#old-browser") or "")
    finally:
        await context.close()


@pytest.mark.skipif(not AXE.exists(), reason="run `make node-tools` for axe-core")
async def test_axe_finds_no_serious_problem_in_the_guide_the_banner_and_the_offline_page(
    live_server: LiveServer, browser: Browser
) -> None:
    # axe is injected as a script, which the strict CSP would (rightly) refuse.
    context = await browser.new_context(**PHONE, locale="zh-CN", bypass_csp=True)  # type: ignore[arg-type]
    problems: list[str] = []

    async def check(page: Page, what: str) -> None:
        if await page.evaluate("document.documentElement.scrollWidth") > 360:
            problems.append(f"{what}: wider than the phone")
        await page.add_script_tag(path=str(AXE))
        axe = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        result = await asyncio.wait_for(axe, 60)
        for v in result["violations"]:
            if v["impact"] in ("serious", "critical"):
                problems.append(f"{what}: {v['id']} {[n['target'] for n in v['nodes']][:3]}")

    try:
        page = await context.new_page()
        await page.add_init_script(IOS_TAB)
        await pause_clock(page)
        await open_synced(context, page, live_server)
        await save_without_network(context, page, live_server)
        await page.clock.set_system_time(NOW + timedelta(hours=25))
        await page.goto(f"{live_server.url}/")
        await page.wait_for_selector("#waited:not([hidden])")
        await page.wait_for_selector("#home-guide:not([hidden])")
        await page.clock.resume()  # axe waits on timers of its own
        await check(page, "Today with the guide and the banner")
        await context.set_offline(True)
        await page.goto(f"{live_server.url}/account")
        await page.wait_for_selector("#needs-connection")
        await check(page, "needs a connection")
    finally:
        await context.close()
    assert problems == [], "\n".join(problems)


async def test_background_sync_sends_what_waited_with_the_app_closed(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    # Android's browsers wake the service worker with the tag app.js registered once the network is
    # back: the worker must answer to that same tag (the one outbox.js names), with no page open.
    await pause_clock(phone)
    prog = await open_synced(phone_context, phone, live_server)
    await save_without_network(phone_context, phone, live_server)
    await phone_context.unroute(SYNC_API)
    cdp = await phone_context.new_cdp_session(phone)
    registrations: list[dict[str, str]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    await cdp.send("ServiceWorker.enable")
    await phone.goto("about:blank")  # the app is closed
    for _ in range(50):
        if registrations:
            break
        await asyncio.sleep(0.1)
    registration = next(r for r in registrations if r["scopeURL"].startswith(live_server.url))

    async def wake(tag: str) -> None:
        await cdp.send(
            "ServiceWorker.dispatchSyncEvent",
            {
                "origin": live_server.url,
                "registrationId": registration["registrationId"],
                "tag": tag,
                "lastChance": False,
            },
        )

    await wake("someone-else")  # another tag is not Peerlog's to answer
    await asyncio.sleep(1)
    assert await Contact.filter(peer_leader=prog.leader).count() == 0
    # Still without a network, the worker's own try fails too (what every offline test here
    # stands on: the context's offline cuts the worker's network as well as the page's).
    await phone_context.set_offline(True)
    await wake("peerlog-sync")
    await asyncio.sleep(1)
    assert await Contact.filter(peer_leader=prog.leader).count() == 0
    await phone_context.set_offline(False)
    await wake("peerlog-sync")
    assert await contacts_on_server(prog.leader, 1) == 1
