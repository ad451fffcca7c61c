"""A coordinator imports participants from a CSV file on a phone-sized browser."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import BrowserContext, expect

from server.auth.session import SESSION_COOKIE, create_session
from sync.models import Participant, Role
from tests import factories
from tests.conftest import LiveServer


async def test_import_preview_then_confirm(
    live_server: LiveServer, phone_context: BrowserContext, tmp_path: Path
) -> None:
    community = await factories.community()
    await factories.committee(community, code="RC-E2E")
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    token = await create_session(coordinator, live_server.settings)
    await phone_context.add_cookies(
        [
            {"name": SESSION_COOKIE, "value": token, "url": live_server.url},
            {"name": "lang", "value": "zh-CN", "url": live_server.url},
        ]
    )
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "code,full_name,committee_code,consent_on\n"
        "E-1,王秀英,RC-E2E,2026-05-01\n"
        "E-2,李建国,RC-NOPE,2026-05-01\n"
        "E-3,张伟,RC-E2E,\n",
        encoding="utf-8",
    )
    page = await phone_context.new_page()
    await page.goto(f"{live_server.url}/admin/participants/import")
    await page.set_input_files('input[type="file"]', str(csv_file))
    await page.locator('form[enctype="multipart/form-data"] button[type="submit"]').click()
    await expect(page.locator("#import-summary")).to_contain_text("1 行可以导入；2 行有问题")
    await expect(page.locator('#rejected tr[data-line="3"]')).to_contain_text("居委会：")
    await expect(page.locator('#rejected tr[data-line="4"]')).to_contain_text("知情同意日期：")
    assert not await Participant.exists(code="E-1")
    await page.locator("#confirm-import").click()
    await expect(page.locator("#import-summary")).to_contain_text("导入 1 名参与者")
    assert await Participant.exists(code="E-1")
    assert not await Participant.filter(code__in=["E-2", "E-3"]).exists()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
