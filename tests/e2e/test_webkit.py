"""Peerlog in the WebKit engine, the engine of every iPhone browser: no Background Sync, a Storage
API with persist() but no estimate() (as Safari 15.2–16), and no WebAuthn in WebKitGTK, so the
session comes from an enrolment made in Chromium with a real passkey.

WebKit has no offline switch: the server is stopped, as a phone loses the network.
"""

from __future__ import annotations

from playwright.async_api import Browser

from server.auth.invites import create_invite
from server.auth.session import SESSION_COOKIE
from sync.models import Contact
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE, add_virtual_authenticator
from tests.e2e.test_app_support import Program, program
from tests.e2e.webkit_support import (
    SAFARI_16_STORAGE,
    WebKitPhone,
    bounded,
    require_webkit,
    webkit_phone,
)

SYNCED = (
    "document.querySelector('#status')?.dataset.waiting === '0'"
    " && document.querySelector('#status')?.dataset.online === 'yes'"
    " && !document.querySelector('[data-s=last]').textContent.match(/Not synced|尚未同步/)"
)


async def enrolled_in_chromium(
    server: LiveServer, browser: Browser, n: int
) -> tuple[Program, str, str]:
    """A peer leader enrolled from an invite with a passkey in Chromium: (program, session
    cookie, device id), to be carried over to WebKit."""
    prog = await program(n)
    invite = await create_invite(prog.leader, server.settings)
    context = await browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[arg-type]
    try:
        page = await context.new_page()
        await add_virtual_authenticator(page)
        await page.goto(f"{server.url}/invite/{invite.code}")
        await page.click("#passkey-create")
        await page.wait_for_url(f"{server.url}/")
        device = await page.evaluate("() => localStorage.getItem('peerlog.device_id')")
        cookie = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)
        return prog, cookie["value"], device
    finally:
        await context.close()


async def sign_in(phone: WebKitPhone, session: str, device: str) -> None:
    """The Chromium enrolment's session and device, copied into WebKit, then the app opened and
    synced with its service worker in control."""
    await phone.get("/offline")  # any page of the origin, for its cookie jar and localStorage
    cookie = {"name": SESSION_COOKIE, "value": session, "path": "/", "httpOnly": True}
    await phone.call(phone.driver.add_cookie, cookie)
    await phone.js("localStorage.setItem('peerlog.device_id', arguments[0]);", device)
    await phone.get("/")
    await phone.controlled()
    await phone.until(SYNCED)


async def log_contact(phone: WebKitPhone, index: int) -> None:
    """Through the real form: choose the participant, tick a key function, save."""
    from selenium.webdriver.support.select import Select

    await phone.get("/contacts/new")
    await phone.ready()
    select = await phone.call(phone.driver.find_element, "css selector", "#participant_id")
    await phone.call(Select(select).select_by_index, index)
    await phone.click("[name=functions][value=being_there]")
    await phone.click("#contact button[type=submit]")
    await phone.until("document.querySelector('#saved a')")


async def test_webkit_works_offline_and_two_contacts_arrive_exactly_once(
    live_server: LiveServer, browser: Browser
) -> None:
    require_webkit()
    prog, session, device = await enrolled_in_chromium(live_server, browser, 2)

    async def body() -> None:
        async with webkit_phone(live_server) as phone:
            await sign_in(phone, session, device)
            # The server goes away, as the network does on a phone.
            await live_server.stop()
            await phone.get("/")  # a reload, answered by the service worker
            await phone.ready()
            assert await phone.js(
                "return document.querySelector('h1').textContent.includes('今天');"
            )
            manifest = (
                "return (await fetch('/manifest.webmanifest', {credentials: 'omit'})).status;"
            )
            assert await phone.js_async(manifest) == 200  # from the worker's cache
            await phone.click("a[href='/participants']")  # and on between screens
            await phone.until("location.pathname === '/participants'")
            await phone.ready()
            names = await phone.js("return document.querySelector('main').innerText;")
            assert "Zhang Wei 0" in names and "Zhang Wei 1" in names
            for index in (1, 2):
                await log_contact(phone, index)
            await phone.until("document.querySelector('#status').dataset.waiting === '2'")
            assert await Contact.filter(peer_leader=prog.leader).count() == 0

            # Server back; WebKit has no Background Sync: the records leave when the app opens.
            await live_server.start()
            await phone.get("/")
            await phone.until(SYNCED)
            assert await Contact.filter(peer_leader=prog.leader).count() == 2
            # Another sync sends nothing again.
            await phone.click("#sync-now")
            await phone.until(SYNCED)
            people = {c.participant_id for c in await Contact.filter(peer_leader=prog.leader)}  # type: ignore[attr-defined]
            assert people == {p.id for p in prog.participants}
            assert await phone.errors() == []

    await bounded(body())


async def test_webkit_settings_open_with_safari_16_storage_and_an_offline_link_says_it_needs_a_connection(
    live_server: LiveServer, browser: Browser
) -> None:
    require_webkit()
    _, session, device = await enrolled_in_chromium(live_server, browser, 1)

    async def body() -> None:
        async with webkit_phone(live_server, SAFARI_16_STORAGE) as phone:
            await sign_in(phone, session, device)
            await phone.get("/settings")
            assert await phone.js("return typeof navigator.storage.persist;") == "function"
            assert await phone.js("return typeof navigator.storage.estimate;") == "undefined"
            await phone.ready()  # storage() finished without a TypeError
            text = await phone.js("return document.querySelector('main').innerText;")
            assert "不能在后台发送记录" in text  # no Background Sync in WebKit
            assert "不提供 Peerlog 占用空间的信息" in text
            assert await phone.errors() == []

            # Offline, a link to a page that needs the network: a page saying so, not a dead end.
            await live_server.stop()
            await phone.click("a[href='/account']")
            await phone.until("document.getElementById('needs-connection')")
            assert await phone.js("return location.pathname;") == "/account"
            assert "需要网络连接" in await phone.js(
                "return document.querySelector('h1').textContent;"
            )
            await phone.click("#needs-connection a[href='/']")
            await phone.until("location.pathname === '/'")
            await phone.ready()
            await live_server.start()

    await bounded(body())
