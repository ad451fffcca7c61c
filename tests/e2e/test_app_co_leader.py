"""The meeting form's co-leader (SPEC 2: the papers' meetings are co-led by health centre staff):
picked from the names this phone knows (used on meetings, the community's staff), or typed, and
saved offline it reaches the server with the meeting, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Community, GroupMeeting, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    go_online,
    program,
    sign_in_with_cookie,
    wait_answered,
    wait_controlled,
    wait_ready,
    wait_synced,
    waiting,
)


async def test_a_co_leader_picked_offline_arrives_on_the_server_with_the_meeting_once(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(2)
    # A meeting another phone recorded last month, co-led by a nurse: the phone pulls it.
    await GroupMeeting.create(
        id=uuid.uuid4(),
        group=prog.group,
        community_id=prog.group.community_id,  # type: ignore[attr-defined]
        peer_leader=prog.leader,
        occurred_at=datetime.now(UTC) - timedelta(days=30),
        co_leader="李护士",
    )
    # The health centre's coordinator, named at sign-in though no meeting names her yet.
    await factories.user(
        Role.COORDINATOR,
        community=await Community.get(id=prog.group.community_id),  # type: ignore[attr-defined]
        display_name="周医生",
    )
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)

    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/meetings/new")
    await wait_ready(phone)
    await phone.select_option("#group_id", str(prog.group.id))
    pick = phone.locator("#co_leader-picks button", has_text="李护士")
    await expect(pick).to_be_visible()
    await expect(phone.locator("#co_leader-picks button", has_text="周医生")).to_be_visible()
    box = await pick.bounding_box()
    assert box and box["height"] >= 44  # a tap target for older fingers
    await pick.click()
    await expect(phone.locator("#co_leader")).to_have_value("李护士")
    await expect(pick).to_have_attribute("aria-pressed", "true")
    await phone.check("[name=attendee_ids] >> nth=0")
    await phone.click("button[type=submit]")
    await phone.wait_for_selector("#saved:not(:empty)")

    # A second meeting, the co-leader typed (a doctor nobody named before), then offered next time.
    await phone.fill("#co_leader", "王医生")
    await expect(pick).to_have_attribute("aria-pressed", "false")
    await phone.click("button[type=submit]")
    await phone.wait_for_selector("#saved:not(:empty)")
    await expect(phone.locator("#co_leader-picks button", has_text="王医生")).to_be_visible()
    assert await waiting(phone, 2) == 2
    assert await GroupMeeting.filter(group=prog.group).count() == 1

    await go_online(phone_context, phone)
    await wait_answered(phone)
    await phone.click("#sync-now")  # a second sync sends nothing again
    await wait_synced(phone)
    assert sorted(
        await GroupMeeting.filter(group=prog.group).values_list("co_leader", flat=True)
    ) == [
        "李护士",
        "李护士",
        "王医生",
    ]
