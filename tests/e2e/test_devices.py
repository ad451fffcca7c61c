"""An administrator signs a lost phone out: its next request is refused, its session is gone, and
the passkey that lived only on it no longer signs in."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from server.auth.invites import create_invite
from server.auth.session import SESSION_COOKIE, create_session
from sync.models import AuditEvent, Credential, Device, Role, Session
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import add_virtual_authenticator

CALL_AS_THE_APP = """async (path) => {
  const { apiHeaders } = await import('/static/js/device.js');
  const r = await fetch(path, {credentials: 'same-origin', headers: apiHeaders()});
  return [r.status, await r.json()];
}"""


async def test_a_revoked_device_is_refused_and_signed_out(
    live_server: LiveServer, phone: Page, browser: Browser
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    invite = await create_invite(user, live_server.settings)
    await add_virtual_authenticator(phone)
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    await phone.locator("#passkey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    device_id = await phone.evaluate("localStorage.getItem('peerlog.device_id')")
    status, _ = await phone.evaluate(CALL_AS_THE_APP, "/api/auth/me")
    assert status == 200

    # The administrator, at a desktop, revokes the phone on the devices page.
    admin = await factories.user(Role.ADMIN)
    desktop = await browser.new_context(locale="en")
    token = await create_session(admin, live_server.settings)
    await desktop.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": live_server.url}])
    page = await desktop.new_page()
    await page.goto(f"{live_server.url}/admin/devices")
    row = page.locator(f"tr[data-device='{device_id}']")
    await row.get_by_role("button").click()
    await expect(page.locator(".notice")).to_contain_text("signed out")
    await desktop.close()

    # At once: the phone's session is gone and its next call says "device_revoked" (wipe).
    assert not await Session.filter(device_id=device_id).exists()
    assert (await Device.get(id=device_id)).revoked_at is not None
    assert await AuditEvent.exists(action="device.revoked", record_id=device_id)
    status, body = await phone.evaluate(CALL_AS_THE_APP, "/api/sync/pull")
    assert status == 403 and body["error"] == "device_revoked"
    status, body = await phone.evaluate(CALL_AS_THE_APP, "/api/auth/me")
    assert status == 403 and body["error"] == "device_revoked"

    # The passkey used only on that phone went with it: whoever holds the phone cannot sign in
    # again, not even as a "new device". A new invite enrols the phone afresh.
    await phone.goto(f"{live_server.url}/signin")
    await phone.locator("#passkey-signin").click()
    await expect(phone.locator("#auth-status")).to_have_text(
        re.compile("通行密钥未登记|not known here")
    )
    assert not await Credential.filter(user=user).exists()
    invite = await create_invite(user, live_server.settings)
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    await phone.locator("#passkey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    new_id = await phone.evaluate("localStorage.getItem('peerlog.device_id')")
    assert new_id and new_id != device_id
    status, me = await phone.evaluate(CALL_AS_THE_APP, "/api/auth/me")
    assert status == 200 and me["device_id"] == new_id
