"""A phone enrols with an invite, signs out and back in with its passkey, and adds a second one.

Chromium's CDP virtual authenticator plays the phone's screen lock; the server verifies with
py_webauthn for real.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from server.auth.invites import create_invite
from sync.models import Credential, Device, Role, Session, User
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import add_virtual_authenticator

ME = """async () => {
  const r = await fetch('/api/auth/me', {credentials: 'same-origin'});
  return [r.status, await r.json()];
}"""


def watch_csp(page: Page) -> list[str]:
    """Collect Content-Security-Policy violations: the pages must need no inline anything."""
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
            else None
        ),
    )
    return violations


async def enrol(live_server: LiveServer, phone: Page) -> tuple[User, Any, str]:
    user = await factories.user(Role.PEER_LEADER, display_name="Wang Fang")
    invite = await create_invite(user, live_server.settings)
    cdp, authenticator_id = await add_virtual_authenticator(phone)
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    await expect(phone.locator("h1")).to_contain_text("Wang Fang")
    await phone.locator("#passkey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    return user, cdp, authenticator_id


async def test_invite_register_sign_out_and_sign_in_again(
    live_server: LiveServer, phone: Page
) -> None:
    violations = watch_csp(phone)
    user, _, _ = await enrol(live_server, phone)
    status, me = await phone.evaluate(ME)
    assert status == 200 and me["user"] == str(user.id) and me["role"] == "peer_leader"
    device_id = await phone.evaluate("localStorage.getItem('peerlog.device_id')")
    assert me["device_id"] == device_id
    assert await Device.filter(id=device_id, user=user).exists()
    assert await Credential.filter(user=user).count() == 1

    await phone.goto(f"{live_server.url}/account")
    await phone.locator("#sign-out").click()
    await phone.wait_for_url(f"{live_server.url}/signin")
    status, _ = await phone.evaluate(ME)
    assert status == 401
    assert not await Session.filter(user=user).exists()

    # Coming back to a protected page asks to sign in, then returns there.
    await phone.goto(f"{live_server.url}/account")
    await phone.wait_for_url(f"{live_server.url}/signin?next=%2Faccount")
    await phone.locator("#passkey-signin").click()
    await phone.wait_for_url(f"{live_server.url}/account")
    status, me = await phone.evaluate(ME)
    assert status == 200 and me["user"] == str(user.id)
    assert (await Credential.get(user=user)).last_used_at is not None
    assert violations == []


async def test_a_second_passkey_is_added_from_the_account_page(
    live_server: LiveServer, phone: Page
) -> None:
    violations = watch_csp(phone)
    user, cdp, first = await enrol(live_server, phone)
    # The second passkey lives on another authenticator (say, the office computer's).
    await cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": first})
    _, second = await add_virtual_authenticator(phone)
    await phone.goto(f"{live_server.url}/account")
    await phone.locator("#new-passkey-name").fill("Office computer")
    await phone.locator("#passkey-add button[type=submit]").click()
    await expect(phone.locator("[data-passkey]")).to_have_count(2)
    names = await Credential.filter(user=user).order_by("created_at").values_list("name", flat=True)
    assert names[1] == "Office computer"

    # Removing one is fine; the last one is refused with a clear message.
    phone.on("dialog", lambda dialog: dialog.accept())
    await phone.locator("[data-passkey-remove]").first.click()
    await expect(phone.locator("[data-passkey]")).to_have_count(1)
    await phone.locator("[data-passkey-remove]").first.click()
    await expect(phone.locator("#auth-status")).not_to_be_empty()
    assert await Credential.filter(user=user).count() == 1

    # And the remaining passkey (on the second authenticator) signs in.
    await phone.locator("#sign-out").click()
    await phone.wait_for_url(f"{live_server.url}/signin")
    await phone.locator("#passkey-signin").click()
    await phone.wait_for_url(f"{live_server.url}/")
    status, _ = await phone.evaluate(ME)
    assert status == 200
    assert second and violations == []


async def test_a_used_invite_shows_a_clear_page_that_fits_a_phone(
    live_server: LiveServer, phone: Page
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    invite = await create_invite(user, live_server.settings)
    await add_virtual_authenticator(phone)
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
    box = await phone.locator("#passkey-create").bounding_box()
    assert box is not None and box["width"] <= 360
    await phone.locator("#passkey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    response = await phone.goto(f"{live_server.url}/invite/{invite.code}")
    assert response is not None and response.status == 410
    await expect(phone.locator("[data-invite-problem=used]")).to_be_visible()
    await expect(phone.locator("a[href='/signin']")).to_be_visible()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360
