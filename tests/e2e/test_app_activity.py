"""A group activity in a few taps (SPEC 2): a WeChat group session or a neighbourhood activity for
one of the leader's groups or committees, logged offline, checked by the server's rules, and on
the server once, with headcounts and the named attendees, never as a contact per person."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Contact, GroupActivity
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    go_online,
    idb_count,
    open_synced,
    wait_answered,
    wait_ready,
    wait_synced,
)


async def test_a_wechat_session_logged_offline_arrives_once_with_its_headcounts(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 3)
    await phone_context.set_offline(True)
    await phone.goto(f"{live_server.url}/")
    await wait_ready(phone)
    await phone.click("a[href='/activities/new']")
    await wait_ready(phone)
    # The defaults: the leader's one group, a WeChat group session, now.
    assert await phone.input_value("#target") == f"group:{prog.group.id}"
    assert await phone.is_checked("[name=channel][value=wechat_group]")
    assert await phone.input_value("#occurred_at") != ""
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 360

    await phone.fill("#topic", "春节饮食")
    await phone.check("[name=functions][value=daily_management]")
    await phone.fill("#residents_count", "6000")  # beyond the server's limit
    await phone.click("button[type=submit]")
    await expect(phone.locator("#err-residents_count")).not_to_be_empty()
    assert await phone.get_attribute("#residents_count", "aria-invalid") == "true"
    assert await idb_count(phone, "outbox") == 0

    await phone.fill("#residents_count", "4")
    await phone.click("#named summary")
    await phone.check("[name=attendee_ids] >> nth=0")
    await phone.check("[name=attendee_ids] >> nth=1")
    assert await phone.input_value("#participants_count") == "2"  # at least those named
    await phone.fill("#participants_count", "9")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#saved")).not_to_be_empty()
    assert await idb_count(phone, "outbox") == 1

    # A neighbourhood activity for the group's residential committee, the next one.
    await phone.select_option("#target", f"committee:{prog.participants[0].committee_id}")  # type: ignore[attr-defined]
    await phone.check("[name=channel][value=neighbourhood_activity]")
    await phone.fill("#participants_count", "3")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#saved")).not_to_be_empty()
    assert await idb_count(phone, "outbox") == 2

    await go_online(phone_context, phone)
    await wait_answered(phone)
    await phone.click("#sync-now")  # a second sync sends nothing again
    await wait_synced(phone)
    rows = await GroupActivity.all().order_by("participants_count")
    assert [(r.channel, r.participants_count, r.residents_count) for r in rows] == [
        ("neighbourhood_activity", 3, None),
        ("wechat_group", 9, 4),
    ]
    committee, wechat = rows
    assert committee.committee_id == prog.participants[0].committee_id  # type: ignore[attr-defined]
    assert committee.group_id is None  # type: ignore[attr-defined]
    assert wechat.group_id == prog.group.id  # type: ignore[attr-defined]
    assert wechat.topic == "春节饮食" and wechat.functions == ["daily_management"]
    assert sorted(wechat.attendee_ids) == sorted(str(p.id) for p in prog.participants[:2])
    assert wechat.peer_leader_id == prog.leader.id  # type: ignore[attr-defined]
    assert await Contact.all().count() == 0  # not a contact per person
