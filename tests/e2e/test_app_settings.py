"""Settings: storage is shown, sign-out warns about unsynced records and wipes the phone, and a
device an administrator revoked wipes itself on its next contact with the server."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Device, User
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    idb_count,
    program,
    sign_in_with_cookie,
    wait_controlled,
    wait_ready,
    wait_synced,
)

LOCAL_DATA = """async () => ({
  databases: (await indexedDB.databases()).map((d) => d.name),
  caches: await caches.keys(),
})"""


async def open_app(context: BrowserContext, page: Page, server: LiveServer) -> User:
    prog = await program(1)
    context.set_default_timeout(15_000)
    await sign_in_with_cookie(context, server, prog.leader)
    await page.goto(f"{server.url}/")
    await wait_controlled(page)
    await wait_synced(page)
    return prog.leader


async def test_sign_out_warns_when_records_wait_then_wipes_the_phone(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    await open_app(phone_context, phone, live_server)
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/contacts/new")
    await wait_ready(phone)
    await phone.select_option("#participant_id", index=1)
    await phone.click("button[type=submit]")
    await phone.wait_for_selector("#saved a")

    await phone.goto(f"{live_server.url}/settings")
    await wait_ready(phone)
    assert "MB" in (await phone.text_content("#usage") or "")
    assert await phone.text_content("#persisted")
    await phone.click("#signout")
    await phone.wait_for_selector("#signout-warning:not([hidden])")
    assert "1" in (await phone.text_content("#signout-warning") or "")
    assert await idb_count(phone, "outbox") == 1  # nothing gone yet

    await phone_context.set_offline(False)
    await phone.click("#signout-anyway")
    await phone.wait_for_url("**/signin**")
    local = await phone.evaluate(LOCAL_DATA)
    assert "peerlog" not in local["databases"]
    assert local["caches"] == []


async def test_a_revoked_device_wipes_its_data_and_goes_to_sign_in(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    leader = await open_app(phone_context, phone, live_server)
    device_id = await phone.evaluate("() => localStorage.getItem('peerlog.device_id')")
    # (Signed in with a cookie, the phone has no device row yet; the passkey sign-in makes one.)
    await Device.update_or_create(
        id=device_id, defaults={"user": leader, "revoked_at": datetime.now(UTC)}
    )
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))

    await phone.goto(f"{live_server.url}/participants")
    await phone.wait_for_url("**/signin**")
    # The person is told what happened and whom to ask, in the phone's language (zh-CN here).
    await expect(phone.locator("#revoked")).to_contain_text("协调员")
    assert errors == []
    local = await phone.evaluate(LOCAL_DATA)
    assert "peerlog" not in local["databases"]
    assert local["caches"] == []
    # A revoked id is dead: the next sign-in makes a new device.
    assert await phone.evaluate("() => localStorage.getItem('peerlog.device_id')") != device_id


async def test_another_person_signing_in_on_the_phone_never_sees_the_first_ones_data(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    await open_app(phone_context, phone, live_server)
    assert await idb_count(phone, "participants") == 1
    second = await program(2)
    await phone_context.clear_cookies()
    await sign_in_with_cookie(phone_context, live_server, second.leader)
    await phone.goto(f"{live_server.url}/participants")
    await wait_synced(phone)
    await expect(phone.locator("#list .name")).to_have_count(2)
    names = await phone.locator("#list .name").all_text_contents()
    assert sorted(names) == sorted(p.full_name for p in second.participants)


async def test_the_language_can_be_switched_offline_and_stays_switched(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    await open_app(phone_context, phone, live_server)
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/settings")
    await wait_ready(phone)
    await expect(phone.locator("h1")).to_have_text("设置")

    await phone.click("a[href^='/lang/'][lang=en]")
    await phone.wait_for_function("() => document.documentElement.lang === 'en'")
    await wait_ready(phone)
    await expect(phone.locator("h1")).to_have_text("Settings")
    cookies = {c["name"]: c["value"] for c in await phone_context.cookies()}
    assert cookies["lang"] == "en"  # the server will agree once the phone is back online
    # Every screen, opened offline, is now English, with its English JavaScript strings.
    await phone.goto(f"{live_server.url}/participants")
    await wait_ready(phone)
    assert await phone.evaluate("document.documentElement.lang") == "en"
    await expect(phone.locator("h1")).to_have_text("My participants")

    await phone.goto(f"{live_server.url}/settings")
    await wait_ready(phone)
    await phone.click("a[href^='/lang/'][lang=zh-CN]")
    await phone.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    await wait_ready(phone)
    await expect(phone.locator("h1")).to_have_text("设置")

    await phone_context.set_offline(False)
    await phone.reload()
    await wait_ready(phone)
    assert await phone.evaluate("document.documentElement.lang") == "zh-CN"


async def test_a_language_chosen_elsewhere_wins_over_the_cached_screens(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    """The cookie is the choice (set on another screen or before this app version): the worker
    learns it and the screen is loaded again in that language."""
    await open_app(phone_context, phone, live_server)
    assert await phone.evaluate("document.documentElement.lang") == "zh-CN"
    await phone_context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/")
    await phone.wait_for_function("() => document.documentElement.lang === 'en'")
    await wait_ready(phone)
    await expect(phone.locator("h1")).to_contain_text("Today")
