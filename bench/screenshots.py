"""The README's screenshots, drawn from the running app: `make screenshots`.

A fresh SQLite database gets the demo program (for the staff dashboard, in English on a desktop)
and a small made-up caseload in Chinese for the phone screens (360 px): Today, Log contact with
the urgent-referral suggestion (bench_pwa.screenshots), a participant's timeline, a volunteer's
roster cards, and an invite opened inside WeChat. Needs a CJK font (Debian's fonts-wqy-microhei).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_pwa import push_new, screenshots, signed_in_page, wait_synced
from bench.scratch import start_scratch_sqlite, stop_scratch
from server import demo
from server.auth.invites import create_invite, invite_link
from server.auth.session import SESSION_COOKIE, create_session
from sync.models import Committee, Community, Role, User
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE

READY = "body[data-ready=yes]"
WECHAT = (
    "Mozilla/5.0 (Linux; Android 12; V2154A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/101.0.4951.74 Mobile Safari/537.36 MMWEBID/1234 MicroMessenger/8.0.40"
)


async def dashboard(browser: Any, server: LiveServer, folder: Path) -> None:
    admin = await User.filter(role=Role.ADMIN).first()
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en")
    token = await create_session(admin, server.settings)
    await context.add_cookies(
        [
            {"name": SESSION_COOKIE, "value": token, "url": server.url},
            {"name": "lang", "value": "en", "url": server.url},
        ]
    )
    page = await context.new_page()
    await page.goto(f"{server.url}/admin/dashboard")
    await page.screenshot(path=str(folder / "dashboard-en.png"))
    await context.close()


async def phone_extras(
    browser: Any, server: LiveServer, leader: Any, people: list[Any], folder: Path
) -> None:
    person = people[0]
    now = datetime.now(UTC).astimezone(timezone(timedelta(hours=8)))
    meeting = {
        "group_id": str(person.group_id),
        "occurred_at": (now - timedelta(days=9)).isoformat(timespec="seconds"),
        "place": "居委会活动室",
        "topic": "饮食与运动：一周菜单",
        "co_leader": "社区卫生服务中心 王医生",
        "attendee_ids": [str(p.id) for p in people[:6]],
    }
    call = {
        "participant_id": str(person.id),
        "occurred_at": (now - timedelta(days=2)).isoformat(timespec="seconds"),
        "mode": "phone_call",
        "functions": ["social_emotional", "daily_management"],
        "topics": ["diet", "glucose_monitoring"],
        "glucose_mmol": 7.8,
        "referral": "routine",
        "referral_to": "chc_doctor",
        "referral_reason": "想调整用药",
        "follow_up_on": (now + timedelta(days=12)).date().isoformat(),
        "note": "女儿下个月回来，想一起去散步",
    }
    results = await push_new(server, leader, [("group_meeting", meeting), ("contact", call)])
    assert all(r["status"] == "applied" for r in results), results
    context, page = await signed_in_page(browser, server, leader)
    await page.goto(f"{server.url}/")
    await wait_synced(page)
    await page.goto(f"{server.url}/participants/view?id={person.id}")
    await page.wait_for_selector(READY)
    await page.evaluate(
        "() => { document.getElementById('h-timeline').scrollIntoView(); window.scrollBy(0, -100); }"
    )
    await page.screenshot(path=str(folder / "timeline-zh.png"))
    await context.close()

    committee = await Committee.get(id=person.committee_id)
    community = await Community.get(id=leader.community_id)
    volunteer = await factories.user(
        Role.VOLUNTEER,
        community=community,
        committee=committee,
        display_name="居委会 小李",
    )
    context, page = await signed_in_page(browser, server, volunteer)
    await page.goto(f"{server.url}/roster")
    await wait_synced(page)
    await page.reload()
    await page.wait_for_selector(READY)
    await page.screenshot(path=str(folder / "roster-zh.png"))
    await context.close()

    newcomer = await factories.user(Role.PEER_LEADER, community=community, display_name="新组长")
    invite = await create_invite(newcomer, server.settings)
    context = await browser.new_context(**PHONE, locale="zh-CN", user_agent=WECHAT)
    page = await context.new_page()
    await page.goto(invite_link(server.settings, invite.code))
    await page.screenshot(path=str(folder / "invite-wechat-zh.png"))
    await context.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", default="docs")
    parser.add_argument("--scale", type=float, default=0.3, help="demo program size (1 = full)")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a script, before any server)
    server = await start_scratch_sqlite(
        "shots", lambda settings: demo.run(settings, scale=args.scale, echo=lambda *_: None)
    )
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            await dashboard(browser, server, folder)
            leader, people = await screenshots(browser, server, folder)
            await phone_extras(browser, server, leader, people, folder)
            await browser.close()
    finally:
        await stop_scratch(server)
    print(f"screenshots in {folder}/")


if __name__ == "__main__":
    asyncio.run(main())
