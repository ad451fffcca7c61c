"""A new program's first day, on an empty database: the sign-in page says how the first
administrator gets in; they enrol with a passkey and land on the staff pages, set up a place, a
peer leader and a group, import participants from a spreadsheet with Chinese headers and a group
column; the peer leader enrols on a 360 px phone and finds the group on the meeting screen."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from server.auth.accounts import create_user
from server.auth.invites import create_invite
from sync.models import Participant, User
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE, add_virtual_authenticator
from tests.e2e.test_app_support import wait_ready, wait_synced

DESK = {"viewport": {"width": 1280, "height": 900}}

SPREADSHEET = "\n".join(
    [
        "编号,姓名,性别,出生年份,电话,住址,居委会,小组,同伴组长,入组日期,知情同意日期",
        "CF-001,王秀英,女,1956,13911119001,3号楼402,一居委,晨练小组,,2026/5/2,2026/5/1",
        "CF-002,李建国,男,1950,13911119002,5号楼101,一居委,晨练小组,,2026/5/2,2026/5/1",
        "CF-003,张伟,男,1961,,,一居委,,,2026/5/2,",
    ]
)


async def test_a_new_administrator_sets_up_an_empty_program_and_a_peer_leader_sees_the_group(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    url = live_server.url
    desk = await browser.new_context(**DESK, locale="zh-CN")  # type: ignore[arg-type]
    phone = await browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[arg-type]
    try:
        admin_page = await desk.new_page()
        # Nobody can sign in yet, and the page says what to do on the server.
        await admin_page.goto(f"{url}/signin")
        hint = admin_page.locator("#first-admin")
        await expect(hint).to_be_visible()
        await expect(hint).to_contain_text("peerlog create-user NAME --role admin")

        # The commands the hint gives, then the link they print, opened on this computer.
        admin = await create_user("ana", "admin", display_name="Ana")
        invite = await create_invite(admin, live_server.settings)
        await add_virtual_authenticator(admin_page)
        await admin_page.goto(f"{url}/invite/{invite.code}")
        await admin_page.locator("#passkey-create").click()
        await admin_page.wait_for_url(f"{url}/admin", timeout=15_000)  # not the phone's Today
        await admin_page.goto(f"{url}/signin")
        await expect(admin_page.locator("#first-admin")).to_have_count(0)

        # A community, a residential committee.
        await admin_page.goto(f"{url}/admin/places")
        new_community = admin_page.locator('form[action="/admin/places/communities"]')
        await new_community.locator('[name="name"]').fill("长风街道")
        await new_community.locator('[name="code"]').fill("CF")
        await new_community.locator('button[type="submit"]').click()
        new_committee = admin_page.locator('form[action="/admin/places/committees"]')
        await new_committee.locator('[name="name"]').fill("一居委")
        await new_committee.locator('[name="code"]').fill("CF-01")
        await new_committee.locator('button[type="submit"]').click()
        await expect(admin_page.locator('input[value="一居委"]')).to_have_count(1)

        # A peer leader, and an invite for their phone.
        await admin_page.goto(f"{url}/admin/users")
        await admin_page.fill("#u-display", "王芳")
        await admin_page.fill("#u-username", "wangfang")
        await admin_page.select_option("#u-role", "peer_leader")
        await admin_page.select_option("#u-community", label="长风街道")
        await admin_page.locator('form.user-create button[type="submit"]').click()
        await admin_page.locator('form[action$="/invite"] button[type="submit"]').click()
        link = await admin_page.locator("[data-invite-link]").get_attribute("href")
        assert link and "/invite/" in link

        # Their group.
        await admin_page.goto(f"{url}/admin/places")
        new_group = admin_page.locator('form[action="/admin/places/groups"]')
        await new_group.locator('[name="name"]').fill("晨练小组")
        await new_group.locator('[name="committee_id"]').select_option(label="一居委")
        await new_group.locator('[name="leader_id"]').select_option(label="王芳")
        await new_group.locator('button[type="submit"]').click()
        await expect(admin_page.locator('input[value="晨练小组"]')).to_have_count(1)

        # The committee's spreadsheet, Chinese headers and a group column.
        sheet = tmp_path / "名单.csv"
        sheet.write_text(SPREADSHEET, encoding="utf-8-sig")
        await admin_page.goto(f"{url}/admin/participants/import")
        await admin_page.set_input_files('input[type="file"]', str(sheet))
        await admin_page.locator('form[enctype="multipart/form-data"] button').click()
        await expect(admin_page.locator("#import-summary")).to_contain_text("2 行可以导入")
        # The one bad row names the field as the form does, in Chinese.
        await expect(admin_page.locator('#rejected tr[data-line="4"]')).to_contain_text(
            "知情同意日期："
        )
        await admin_page.locator("#confirm-import").click()
        await expect(admin_page.locator("#import-summary")).to_contain_text("导入 2 名参与者")
        leader = await User.get(username="wangfang")
        in_group = await Participant.filter(group__leader_id=leader.id).values_list(
            "code", flat=True
        )
        assert sorted(in_group) == ["CF-001", "CF-002"]

        # The peer leader enrols on their phone and opens the meeting screen.
        leader_page = await phone.new_page()
        await add_virtual_authenticator(leader_page)
        await leader_page.goto(link.replace("http://localhost:8000", url))
        await leader_page.locator("#passkey-create").click()
        await leader_page.wait_for_url(f"{url}/", timeout=15_000)
        await wait_ready(leader_page)
        await wait_synced(leader_page)
        await leader_page.goto(f"{url}/meetings/new")
        await wait_ready(leader_page)
        group = leader_page.locator("#group_id")
        await expect(group.locator("option", has_text="晨练小组")).to_have_count(1)
        await group.select_option(label="晨练小组")
        attendees = leader_page.locator("[name=attendee_ids]")
        await expect(attendees).to_have_count(2)
        body = leader_page.locator("main")
        await expect(body).to_contain_text("王秀英")
        await expect(body).to_contain_text("李建国")
    finally:
        await desk.close()
        await phone.close()
