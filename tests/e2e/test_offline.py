"""The promise peer leaders rely on: sign in once, then log contacts anywhere; nothing is lost
or sent twice when the network comes back."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page

from server.auth.invites import create_invite
from sync.models import Contact, ContactMode, GroupMeeting
from tests.conftest import LiveServer
from tests.e2e.conftest import add_virtual_authenticator
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    program,
    record_meeting,
    sign_in_with_cookie,
    wait_controlled,
    wait_ready,
    wait_synced,
    waiting,
)


async def log_contact(page: Page, base: str, index: int) -> None:
    await page.goto(f"{base}/contacts/new")
    await wait_ready(page)
    await page.select_option("#participant_id", index=index)
    await page.check("[name=functions][value=being_there]")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#saved a")


async def test_contacts_logged_offline_survive_a_restart_and_reach_the_server_exactly_once(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(3)
    invite = await create_invite(prog.leader, live_server.settings)
    await add_virtual_authenticator(phone)
    phone_context.set_default_timeout(15_000)

    # Sign in with a passkey through the invite, as a new peer leader would.
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    await phone.click("#passkey-create")
    await phone.wait_for_url(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    assert await idb_count(phone, "participants") == 3

    await phone_context.set_offline(True)
    await phone.reload()
    await wait_ready(phone)
    assert await phone.text_content("#status [data-s=net]") == "离线"

    # The meeting first here; the next test logs contacts before a meeting, the order that once
    # broke a foreign key in the push.
    await record_meeting(phone, live_server, str(prog.group.id))
    for i in (1, 2, 3):
        await log_contact(phone, live_server.url, i)
    assert await waiting(phone, 4) == 4
    await phone.close()

    # Reopen, still offline: everything is there, waiting.
    page = await phone_context.new_page()
    await page.goto(f"{live_server.url}/participants")
    await wait_ready(page)
    assert await waiting(page, 4) == 4
    assert "4 条等待同步" in (await page.text_content("#status") or "")
    assert await idb_count(page, "contacts") == 3
    assert await idb_count(page, "meetings") == 1
    assert await Contact.filter(peer_leader=prog.leader).count() == 0

    await go_online(phone_context, page)
    await wait_synced(page)
    status = await page.text_content("#status") or ""
    assert "已全部同步" in status and "上次同步" in status
    logged = Contact.filter(peer_leader=prog.leader).exclude(mode=ContactMode.GROUP_MEETING)
    assert await logged.count() == 3
    assert await GroupMeeting.filter(group=prog.group).count() == 1


async def test_contacts_then_a_meeting_logged_offline_reach_the_server(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(2)
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    await phone_context.set_offline(True)
    await log_contact(phone, live_server.url, 1)
    await record_meeting(phone, live_server, str(prog.group.id))
    await go_online(phone_context, phone)
    await wait_synced(phone, ms=4_000)
    assert await GroupMeeting.filter(group=prog.group).count() == 1
