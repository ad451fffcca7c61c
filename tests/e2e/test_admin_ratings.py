"""The quarterly ratings grid on a 360 px phone, in Chinese: a coordinator rates a peer leader
beside last quarter's values, saves, and the rating is in the database (written by the engine);
the page itself never grows wider than the screen (the grid scrolls sideways in its frame)."""

from __future__ import annotations

from playwright.async_api import Browser

from server.admin.support import quarter_of, shift_quarter
from server.auth.session import SESSION_COOKIE, create_session
from server.reports import today_in
from sync.entities.implementation_rating import RATED
from sync.models import ImplementationRating, Mutation, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE


async def test_a_coordinator_rates_a_peer_leader_on_a_phone(
    live_server: LiveServer, browser: Browser
) -> None:
    community = await factories.community(name="新华社区")
    coordinator = await factories.user(Role.COORDINATOR, community=community, display_name="周")
    leader = await factories.user(Role.PEER_LEADER, community=community, display_name="陈爱华")
    period = quarter_of(today_in(live_server.settings.zone))
    await ImplementationRating.create(
        peer_leader=leader,
        community=community,
        rated_by=coordinator,
        period=shift_quarter(period, -1),
        **dict.fromkeys(RATED, 2),
        comment="上季度",
    )
    context = await browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[arg-type]
    token = await create_session(coordinator, live_server.settings)
    await context.add_cookies(
        [
            {"name": SESSION_COOKIE, "value": token, "url": live_server.url},
            {"name": "lang", "value": "zh-CN", "url": live_server.url},
        ]
    )
    try:
        page = await context.new_page()
        await page.goto(live_server.url + "/admin")
        await page.get_by_role("link", name="评分").click()
        await page.wait_for_url("**/admin/ratings")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        row = page.locator(f'tr[data-leader="{leader.id}"]')
        assert await row.locator("small.prev").count() == len(RATED) + 1
        assert "上季度：2" in await row.inner_text()
        for n, item in enumerate(RATED):
            await row.get_by_label(f"陈爱华: {_label(item)}").select_option(str(n % 5 + 1))
        await row.get_by_label("陈爱华: 评语").fill("按时家访")
        await page.get_by_role("button", name="保存评分").click()
        await page.wait_for_selector("#ratings-saved")
        assert "已保存 1 条评分" in await page.inner_text("#ratings-saved")
        # The grid shows what was saved, ready to be edited.
        shown = page.locator(f'tr[data-leader="{leader.id}"] select').first
        assert await shown.input_value() == "1"
        # The other support pages fit the phone too.
        for path in ("/admin/supervision", "/admin/supervision/new", "/admin/training/new"):
            await page.goto(live_server.url + path)
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360, path
    finally:
        await context.close()
    rating = await ImplementationRating.get(period=period)
    assert [getattr(rating, item) for item in RATED] == [n % 5 + 1 for n in range(len(RATED))]
    assert (rating.comment, rating.version) == ("按时家访", 1)
    assert await Mutation.filter(record_id=rating.id, user_id=coordinator.id).exists()


def _label(item: str) -> str:
    return {
        "being_there": "陪伴在身边",
        "daily_management": "日常管理",
        "social_emotional": "社会和情感支持",
        "linkage_to_care": "连接医疗服务",
        "ongoing_support": "持续支持",
        "committee_use": "利用居委会",
        "resource_linkage": "链接社区资源",
    }[item]
