"""A phone that cannot sync: its outbox report reaches the staff devices page, where it is listed
as at risk once its oldest waiting record is more than a day old; its user saves the waiting
records to a file in Settings; a coordinator uploads the file on the phone's page and the records
arrive exactly once, however often the file is uploaded and when the phone syncs after all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from server.auth.invites import create_invite
from server.auth.session import SESSION_COOKIE, create_session
from sync.models import AuditEvent, Contact, Device, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import add_virtual_authenticator
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    program,
    wait_answered,
    wait_controlled,
    wait_ready,
    wait_synced,
    waiting,
)


async def log_contact(page: Page, base: str, index: int) -> None:
    await page.goto(f"{base}/contacts/new")
    await wait_ready(page)
    await page.select_option("#participant_id", index=index)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#saved a")


async def cut_short(route: Route) -> None:
    # A network that lets requests out but cuts every upload short: the server reads the
    # headers (the outbox report among them) and refuses the truncated body.
    await route.continue_(post_data=(route.request.post_data or "")[:20])


async def test_a_phone_that_cannot_sync_is_at_risk_and_its_saved_file_applies_once(
    live_server: LiveServer,
    phone_context: BrowserContext,
    phone: Page,
    browser: Browser,
    tmp_path: Path,
) -> None:
    phone_context.set_default_timeout(15_000)
    prog = await program(2)
    community = await prog.leader.community
    invite = await create_invite(prog.leader, live_server.settings)
    await add_virtual_authenticator(phone)
    await phone.goto(f"{live_server.url}/invite/{invite.code}")
    await phone.locator("#passkey-create").click()
    await phone.wait_for_url(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    device_id = await phone.evaluate("localStorage.getItem('peerlog.device_id')")

    # Two days ago, out of reach of any network, the peer leader logged two contacts.
    await phone.clock.install(time=datetime.now(UTC) - timedelta(days=2))
    await phone_context.set_offline(True)
    await log_contact(phone, live_server.url, 1)
    await log_contact(phone, live_server.url, 2)
    assert await waiting(phone, 2) == 2

    # Back in reach, but nothing gets through: only the report does.
    await phone_context.route("**/api/sync/push", cut_short)
    await go_online(phone_context, phone)
    for _ in range(100):
        device = await Device.get(id=device_id)
        if device.outbox_waiting:
            break
        await phone.wait_for_timeout(100)
    assert device.outbox_waiting == 2
    assert device.outbox_oldest_at is not None
    assert device.outbox_oldest_at < datetime.now(UTC) - timedelta(days=1)
    assert not await Contact.filter(peer_leader=prog.leader).exists()

    # Settings: save the waiting records to a file.
    await phone.goto(f"{live_server.url}/settings")
    await wait_ready(phone)
    await expect(phone.locator("#waiting-summary")).to_contain_text("2")
    async with phone.expect_download() as download_info:
        await phone.click("#save-waiting")
    download = await download_info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert saved.name.startswith("peerlog-waiting-") and saved.suffix == ".json"
    await expect(phone.locator("#save-waiting-status")).to_contain_text(saved.name)
    content = json.loads(saved.read_text())
    assert content["device_id"] == device_id
    assert [m["mutation_id"] for m in content["mutations"]] == [1, 2]

    # The coordinator, at a desktop, sees the phone at risk, with who and how many.
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    desktop = await browser.new_context(locale="en")
    desktop.set_default_timeout(15_000)
    token = await create_session(coordinator, live_server.settings)
    await desktop.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": live_server.url}])
    page = await desktop.new_page()
    await page.goto(f"{live_server.url}/admin/devices")
    risky = page.locator(f"#at-risk tr[data-device='{device_id}']")
    await expect(risky).to_contain_text(prog.leader.display_name)
    await expect(risky.locator("td[data-waiting='2']")).to_contain_text("2 waiting")
    await page.goto(f"{live_server.url}/admin")
    await expect(page.locator(f"#at-risk tr[data-device='{device_id}']")).to_be_visible()

    # The file, uploaded on the phone's page, applies once; uploaded again, changes nothing.
    await page.goto(f"{live_server.url}/admin/devices")
    await risky.get_by_role("link", name=(await Device.get(id=device_id)).label or "").click()
    await expect(page.locator("#outbox-report")).to_contain_text("2 waiting")
    for applied, already in ((2, 0), (0, 2)):
        await page.set_input_files("input[type=file]", str(saved))
        await page.click("#upload-waiting")
        result = page.locator("#upload-result")
        await expect(result).to_have_attribute("data-applied", str(applied))
        await expect(result).to_have_attribute("data-already", str(already))
        assert await Contact.filter(peer_leader=prog.leader).count() == 2
    assert await AuditEvent.filter(action="device.waiting_records", actor=coordinator).count() == 2
    await desktop.close()

    # When the phone does get through, the server answers from its log: still two contacts,
    # and the phone's report says nothing waits any more.
    await phone_context.unroute("**/api/sync/push")
    await phone.clock.resume()
    await phone.goto(f"{live_server.url}/")
    await go_online(phone_context, phone)
    await wait_answered(phone)
    assert await idb_count(phone, "outbox") == 0
    assert await Contact.filter(peer_leader=prog.leader).count() == 2
    device = await Device.get(id=device_id)
    assert device.outbox_waiting == 0 and device.outbox_oldest_at is None
