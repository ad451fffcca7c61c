"""Phones that cannot make a passkey (SPEC 5). Chromium here has NO virtual authenticator, like
most Android phones sold in mainland China: the invite page offers a device key instead, which
signs in again after a sign-out, carries a contact logged offline to the server exactly once, is
refused to staff, and dies with its device."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from server.auth.devices import revoke_device
from server.auth.invites import create_invite
from sync.models import AuditEvent, Contact, Credential, Device, DeviceKey, Invite, Mutation, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE, add_virtual_authenticator
from tests.e2e.test_app_screens import AXE
from tests.e2e.test_app_support import go_online, program, wait_controlled, wait_synced, waiting
from tests.e2e.test_offline import log_contact
from tests.e2e.test_passkeys import ME, watch_csp
from tests.integration.test_auth_inapp import WECHAT_ANDROID

KEY_DB = (
    """async () => (await indexedDB.databases()).some((d) => d.name === 'peerlog-device-key')"""
)


async def test_a_phone_without_passkeys_enrols_signs_in_again_and_syncs_with_a_device_key(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    violations = watch_csp(phone)
    phone_context.set_default_timeout(15_000)
    prog = await program(2)
    invite = await create_invite(prog.leader, live_server.settings)
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    assert not await phone.evaluate(
        "() => PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable()"
    )
    await expect(phone.locator("#devicekey-explain")).to_be_visible()
    await expect(phone.locator("#passkey-create")).to_be_hidden()
    await phone.locator("#devicekey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    device_id = await phone.evaluate("localStorage.getItem('peerlog.device_id')")
    key = await DeviceKey.get(user=prog.leader)
    assert str(key.device_id) == device_id  # type: ignore[attr-defined]
    # The private key cannot be read out of the browser, not even by the page.
    extractable = await phone.evaluate(
        """async () => {
          const { storedKey } = await import('/static/js/devicekey.js');
          const k = await storedKey();
          return [k.privateKey.extractable, k.privateKey.algorithm.namedCurve, k.id];
        }"""
    )
    assert extractable == [False, "P-256", str(key.id)]
    await wait_controlled(phone)
    await wait_synced(phone)

    # Sign out (the app's data goes, the key stays), then back in with the key.
    await phone.goto(f"{live_server.url}/account")
    await phone.locator("#sign-out").click()
    await phone.wait_for_url(f"{live_server.url}/signin")
    status, _ = await phone.evaluate(ME)
    assert status == 401 and await phone.evaluate(KEY_DB)
    await phone.locator("#devicekey-signin").click()
    await phone.wait_for_url(f"{live_server.url}/")
    status, me = await phone.evaluate(ME)
    assert status == 200 and me["user"] == str(prog.leader.id) and me["device_id"] == device_id
    assert await AuditEvent.exists(action="signin.success", record_id=str(key.id))
    await wait_controlled(phone)
    await wait_synced(phone)

    # A contact logged offline reaches the server exactly once when the network is back.
    await phone_context.set_offline(True)
    await log_contact(phone, live_server.url, 1)
    assert await waiting(phone, 1) == 1
    await go_online(phone_context, phone)
    await wait_synced(phone)
    await phone.reload()
    await wait_synced(phone)
    assert await Contact.filter(peer_leader=prog.leader).count() == 1
    assert await Mutation.filter(device_id=device_id, entity="contact").count() == 1
    assert violations == []


async def test_a_staff_invite_on_that_browser_is_refused_with_a_clear_message(
    live_server: LiveServer, phone: Page
) -> None:
    coordinator = await factories.user(Role.COORDINATOR)
    invite = await create_invite(coordinator, live_server.settings)
    await phone.goto(f"{live_server.url}/lang/en?next=/invite/{invite.code}")
    await phone.wait_for_url(f"{live_server.url}/invite/{invite.code}")
    await expect(phone.locator("#staff-needs-passkey")).to_be_visible()
    await expect(phone.locator("#staff-needs-passkey")).to_contain_text(
        "Staff accounts need a passkey"
    )
    await expect(phone.locator("#devicekey-create")).to_be_hidden()
    # Asked directly, the server refuses too, and the invite stays usable for a passkey.
    status, body = await phone.evaluate(
        """async (code) => {
          const { api, AuthError } = await import('/static/js/auth.js');
          try { await api(`/api/auth/invites/${code}/device-key/options`, { body: {} }); }
          catch (err) { return [err.status, err.code]; }
          return [200, null];
        }""",
        invite.code,
    )
    assert [status, body] == [403, "role_not_allowed"]
    assert not await DeviceKey.exists(user=coordinator)


async def test_a_revoked_device_s_key_no_longer_signs_in(
    live_server: LiveServer, phone: Page
) -> None:
    user = await factories.user(Role.VOLUNTEER)
    invite = await create_invite(user, live_server.settings)
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    await phone.locator("#devicekey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    device_id = await phone.evaluate("localStorage.getItem('peerlog.device_id')")
    await phone.goto(f"{live_server.url}/account")
    await phone.locator("#sign-out").click()
    await phone.wait_for_url(f"{live_server.url}/signin")

    admin = await factories.user(Role.ADMIN)
    await revoke_device(await Device.get(id=device_id), admin)
    assert (await DeviceKey.get(user=user)).revoked_at is not None

    await phone.locator("#devicekey-signin").click()
    await expect(phone.locator("#auth-status")).to_have_text(
        re.compile("密钥已失效|no longer works")
    )
    await expect(phone.locator("#devicekey-signin")).to_be_hidden()
    status, _ = await phone.evaluate(ME)
    assert status == 401
    # The dead key and the dead device id are gone from the phone: a new invite starts afresh.
    assert not await phone.evaluate(KEY_DB)
    assert await phone.evaluate("localStorage.getItem('peerlog.device_id')") in (None, "")


async def test_a_browser_with_webauthn_but_without_its_json_helpers_still_uses_passkeys(
    live_server: LiveServer, phone: Page
) -> None:
    """Older iPhones and Chromium forks (before 2025): WebAuthn, but no parse…FromJSON/toJSON."""
    await phone.add_init_script(
        """delete PublicKeyCredential.parseCreationOptionsFromJSON;
           delete PublicKeyCredential.parseRequestOptionsFromJSON;
           delete PublicKeyCredential.prototype.toJSON;"""
    )
    await add_virtual_authenticator(phone)
    user = await factories.user(Role.PEER_LEADER)
    invite = await create_invite(user, live_server.settings)
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    assert await phone.evaluate("() => PublicKeyCredential.parseCreationOptionsFromJSON") is None
    await phone.locator("#passkey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    assert await Credential.filter(user=user).count() == 1
    await phone.goto(f"{live_server.url}/account")
    await phone.locator("#sign-out").click()
    await phone.wait_for_url(f"{live_server.url}/signin")
    await expect(phone.locator("#devicekey-signin")).to_be_hidden()
    await phone.locator("#passkey-signin").click()
    await phone.wait_for_url(f"{live_server.url}/")
    status, me = await phone.evaluate(ME)
    assert status == 200 and me["user"] == str(user.id)


async def test_in_wechat_the_invite_and_sign_in_pages_show_how_to_open_the_phone_s_browser(
    live_server: LiveServer, browser: Browser
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    invite = await create_invite(user, live_server.settings)
    for locale, words in (("zh-CN", "在浏览器打开"), ("en", "Open in browser")):
        context = await browser.new_context(
            **PHONE,  # type: ignore[arg-type]
            locale=locale,
            user_agent=WECHAT_ANDROID,
        )
        await context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = await context.new_page()
        violations = watch_csp(page)
        for path in (f"/invite/{invite.code}", "/signin"):
            await page.goto(f"{live_server.url}{path}")
            overlay = page.locator("#inapp")
            await expect(overlay).to_be_visible()
            await expect(overlay).to_contain_text(words)
            await expect(page.locator("[data-auth]")).to_be_hidden()
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        await page.goto(f"{live_server.url}/invite/{invite.code}")
        await expect(page.locator(".inapp-code")).to_have_text(invite.code)
        await page.locator("#inapp-copy").click()
        await expect(page.locator("#inapp-status")).not_to_be_empty()
        copied = await page.evaluate("() => navigator.clipboard.readText()")
        assert copied == f"{live_server.url}/invite/{invite.code}"
        assert violations == []
        await context.close()
    assert (await Invite.get(id=invite.id)).used_at is None


@pytest.mark.skipif(not AXE.exists(), reason="run `make node-tools` for axe-core")
async def test_axe_finds_no_serious_problem_on_the_device_key_and_in_app_pages(
    live_server: LiveServer, browser: Browser
) -> None:
    user = await factories.user(Role.PEER_LEADER)
    invite = await create_invite(user, live_server.settings)
    problems = []
    for ua in (None, WECHAT_ANDROID):
        for lang in ("zh-CN", "en"):
            context = await browser.new_context(
                **PHONE,  # type: ignore[arg-type]
                locale=lang,
                bypass_csp=True,  # axe is injected as a script
                **({"user_agent": ua} if ua else {}),
            )
            page = await context.new_page()
            for path in (f"/invite/{invite.code}", "/signin"):
                await page.goto(f"{live_server.url}{path}")
                if ua is None and path.startswith("/invite"):
                    await expect(page.locator("#devicekey-create")).to_be_visible()
                await page.add_script_tag(path=str(AXE))
                result = await page.evaluate(
                    "() => axe.run(document, {resultTypes: ['violations']})"
                )
                for v in result["violations"]:
                    if v["impact"] in ("serious", "critical"):
                        problems.append(f"{lang} {ua and 'wechat'} {path}: {v['id']}")
            await context.close()
    assert problems == []


async def test_the_sign_in_page_takes_a_typed_invite_code_on_a_phone_without_passkeys(
    live_server: LiveServer, phone: Page
) -> None:
    user = await factories.user(Role.VOLUNTEER)
    invite = await create_invite(user, live_server.settings)
    await phone.goto(f"{live_server.url}/signin")
    # No passkey can live here and no key is kept: the invite-code form is open already.
    await expect(phone.locator("#invite-code")).to_be_visible()
    await phone.locator("#invite-code").fill(invite.code.replace("-", " ").lower())
    await phone.locator(".auth-code button[type=submit]").click()
    await phone.wait_for_url(f"{live_server.url}/invite/{invite.code}")
    await phone.locator("#devicekey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    assert await DeviceKey.exists(user=user)
