"""A phone is told when an administrator makes a new invite for its user's account (SPEC 5): a
banner in the phone's language after the next sync, shown until dismissed, and only once."""

from __future__ import annotations

import uuid

from playwright.async_api import BrowserContext, Page, expect

from server.auth.invites import create_invite
from sync.models import Credential, Device, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    program,
    sign_in_with_cookie,
    wait_controlled,
    wait_synced,
)

ZH = "管理员为您的账号生成了新的登录邀请"


async def test_an_admins_new_invite_for_my_account_shows_a_banner_after_the_next_sync(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    phone_context.set_default_timeout(15_000)
    prog = await program(1)
    await Credential.create(user=prog.leader, credential_id=f"c-{uuid.uuid4()}", public_key=b"k")
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    banner = phone.locator("#account-notice")
    await expect(banner).to_be_hidden()

    # The phone's device row, as its first push or passkey sign-in would have made it.
    device_id = await phone.evaluate("() => localStorage.getItem('peerlog.device_id')")
    if not await Device.exists(id=device_id):
        await Device.create(id=uuid.UUID(device_id), user=prog.leader)
    await create_invite(
        prog.leader, live_server.settings, created_by=await factories.user(Role.ADMIN)
    )

    await phone.click("#sync-now")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text(ZH)
    await banner.locator("button").click()
    await expect(banner).to_be_hidden()

    # Dismissed stays dismissed, though the server repeats the notice while the invite lives.
    await phone.reload()
    await wait_synced(phone)
    await phone.click("#sync-now")
    await wait_synced(phone)
    await expect(banner).to_be_hidden()


async def test_the_banner_speaks_english_to_an_english_phone(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    phone_context.set_default_timeout(15_000)
    prog = await program(1)
    await Credential.create(user=prog.leader, credential_id=f"c-{uuid.uuid4()}", public_key=b"k")
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone_context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    device_id = await phone.evaluate("() => localStorage.getItem('peerlog.device_id')")
    if not await Device.exists(id=device_id):
        await Device.create(id=uuid.UUID(device_id), user=prog.leader)
    await create_invite(prog.leader, live_server.settings)
    await phone.click("#sync-now")
    banner = phone.locator("#account-notice")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("An administrator made a new sign-in invite")
