"""Every staff page, on a 360 px phone and on a desktop: axe-core (contrast included) finds no
serious or critical accessibility problem, in Chinese and in English, and on the phone nothing
is wider than the screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser

from server.auth.invites import create_invite
from server.auth.session import SESSION_COOKIE, create_session
from sync.models import Conflict, Contact, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE

DESK = {"viewport": {"width": 1280, "height": 900}}
WIDTHS = {"phone": PHONE, "desk": DESK}

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.skipif(not AXE.exists(), reason="run `make node-tools` for axe-core")
@pytest.mark.parametrize("width", sorted(WIDTHS))
async def test_staff_pages_are_accessible_at_both_widths(
    live_server: LiveServer, browser: Browser, width: str
) -> None:
    community = await factories.community(name="新华社区")
    committee = await factories.committee(community, name="建设花园居委会")
    leader = await factories.user(Role.PEER_LEADER, community=community, display_name="陈爱华")
    await factories.group(community, leader=leader, committee=committee, name="晨练小组")
    people = [
        await factories.participant(
            committee,
            leader,
            full_name=f"王秀英{i}",
            address=f"{i}号楼 402",
            hba1c_baseline=8.6,
            hba1c=8.0,
        )
        for i in range(4)
    ]
    for i, p in enumerate(people):
        await Contact.create(
            participant=p,
            peer_leader=leader,
            community=community,
            occurred_at=datetime.now(UTC) - timedelta(days=i * 9),
            mode="home_visit",
            functions=["being_there"],
            referral="urgent" if i == 1 else "none",
            referral_reason="低血糖" if i == 1 else None,
        )
    conflict = await Conflict.create(
        entity="participant",
        record_id=people[0].id,
        base_version=1,
        server_version=2,
        fields_json={"phone": {"base": "1", "server": "2", "device": "3"}},
        user=leader,
        community=community,
    )
    # An administrator sees every staff page (a coordinator sees the same pages, fewer rows).
    admin = await factories.user(Role.ADMIN, display_name="管理员")
    invited = await factories.user(Role.PEER_LEADER, community=community, display_name="李明")
    await create_invite(invited, live_server.settings)
    paths = [
        "/admin",
        "/admin/dashboard",
        f"/admin/roster?committee={committee.id}",
        "/admin/conflicts",
        f"/admin/conflicts/{conflict.id}",
        "/admin/participants",
        f"/admin/participants/{people[0].id}",
        "/admin/participants/new",
        "/admin/participants/import",
        "/admin/places",
        "/admin/exports",
        "/admin/audit",
        "/admin/referrals",
        "/admin/supervision",
        "/admin/supervision/new",
        "/admin/training",
        "/admin/training/new",
        "/admin/ratings",
        "/admin/instruments",
        "/admin/users",
        f"/admin/users/{leader.id}",
        f"/admin/users/{invited.id}",
        "/admin/invites",
        "/admin/devices",
        "/signin",
    ]
    # axe is injected as a script, which the strict CSP would (rightly) refuse.
    context = await browser.new_context(**WIDTHS[width], bypass_csp=True)  # type: ignore[arg-type]
    token = await create_session(admin, live_server.settings)
    problems: list[str] = []
    try:
        for lang in ("zh-CN", "en"):
            await context.add_cookies(
                [
                    {"name": SESSION_COOKIE, "value": token, "url": live_server.url},
                    {"name": "lang", "value": lang, "url": live_server.url},
                ]
            )
            page = await context.new_page()
            for path in paths:
                response = await page.goto(live_server.url + path)
                assert response is not None and response.status == 200, path
                scroll = await page.evaluate("document.documentElement.scrollWidth")
                if width == "phone" and scroll > 360:
                    problems.append(f"{lang} {path}: {scroll} px wide")
                await page.add_script_tag(path=str(AXE))
                result = await page.evaluate(
                    "() => axe.run(document, {resultTypes: ['violations']})"
                )
                for v in result["violations"]:
                    if v["impact"] in ("serious", "critical"):
                        targets = [n["target"] for n in v["nodes"]][:3]
                        problems.append(f"{lang} {path}: {v['id']} {targets}")
            await page.close()
    finally:
        await context.close()
    assert problems == [], "\n".join(problems)
