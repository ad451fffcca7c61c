"""The phone as its people use it (issue 15): a volunteer's roster at 360 px, one meaning of
"overdue" on every screen, the urgent-referral check on an out-of-range reading, a timeline that
prepares the next visit, and a status bar that leaves room for the screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import BrowserContext, Page, expect

from sync.models import Contact, GroupMeeting, Role
from tests import factories
from tests.conftest import LiveServer
from tests.e2e.test_app_support import (
    open_synced,
    program,
    sign_in_with_cookie,
    wait_answered,
    wait_controlled,
    wait_ready,
    wait_synced,
)

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


async def committee_with_statuses() -> tuple[object, object, list[object]]:
    """A committee of four, never contacted since enrolment (so every active one is overdue):
    two active, one paused, one withdrawn; and its volunteer."""
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community, display_name="李红")
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=committee)
    people = [
        await factories.participant(
            committee,
            leader,
            full_name=name,
            status=status,
            address="幸福小区12号楼3单元502室，靠近东门的那一栋",
        )
        for name, status in (
            ("王秀英", "active"),
            ("张建国", "active"),
            ("刘桂兰", "paused"),
            ("陈志强", "withdrawn"),
        )
    ]
    people[1].needs_visit = True
    people[1].needs_visit_reason = "搬家后没联系上"
    await people[1].save()
    return volunteer, leader, people


async def test_a_volunteer_reads_the_roster_as_cards_with_overdue_only_for_active_people(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    volunteer, _leader, _people = await committee_with_statuses()
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, volunteer)  # type: ignore[arg-type]
    await phone.goto(f"{live_server.url}/roster")
    await wait_controlled(phone)
    await wait_synced(phone)
    await phone.reload()
    await wait_ready(phone)

    cards = phone.locator("#roster .card")
    await expect(cards).to_have_count(4)
    assert await phone.evaluate(NO_SIDEWAYS_SCROLL)
    # Each name on one line (not one character per line, as the 6-column table did).
    heights = await phone.locator("#roster .card .name").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert max(heights) < 60, heights
    overdue = phone.locator("#roster .card.overdue .name")
    assert sorted(await overdue.all_text_contents()) == ["张建国", "王秀英"]
    paused = cards.filter(has_text="刘桂兰")
    await expect(paused.locator(".tag")).to_have_text(["暂停"])
    await expect(cards.filter(has_text="王秀英")).to_contain_text("李红")  # the peer leader
    await expect(cards.filter(has_text="张建国")).to_contain_text("搬家后没联系上")

    # Today counts the same people as overdue, and shows who needs a visit, with no urgent section
    # (a volunteer receives no contacts, so "no urgent referrals" would be a false statement).
    await phone.goto(f"{live_server.url}/")
    await wait_ready(phone)
    await expect(phone.locator("#overdue .card")).to_have_count(2)
    await expect(phone.locator("#visit .card")).to_have_count(1)
    await expect(phone.locator("#h-urgent")).to_be_hidden()

    await phone.goto(f"{live_server.url}/roster")
    await wait_ready(phone)
    await phone.emulate_media(media="print")
    await expect(phone.locator("header.top")).to_be_hidden()
    await expect(phone.locator("#roster .card")).to_have_count(4)
    await expect(phone.locator("#roster .card").first).to_be_visible()


async def test_a_volunteer_sees_what_they_may_know_and_no_empty_clinical_sections(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    volunteer, _leader, people = await committee_with_statuses()
    person = people[0]
    person.last_contact_at = datetime.now(UTC) - timedelta(days=2)  # type: ignore[attr-defined]
    await person.save()  # type: ignore[attr-defined]
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, volunteer)  # type: ignore[arg-type]
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    await phone.goto(f"{live_server.url}/participants/view?id={person.id}")  # type: ignore[attr-defined]
    await wait_ready(phone)
    profile = phone.locator("#profile")
    await expect(profile).to_contain_text("上次联系")
    await expect(profile).not_to_contain_text("从未联系")
    await expect(phone.locator("#h-timeline")).to_be_hidden()
    await expect(phone.get_by_text("还没有联系记录")).to_be_hidden()


async def test_overdue_is_the_same_on_today_and_in_my_participants(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await program(3)
    prog.participants[2].status = "paused"
    await prog.participants[2].save()
    phone_context.set_default_timeout(15_000)
    await sign_in_with_cookie(phone_context, live_server, prog.leader)
    await phone.goto(f"{live_server.url}/")
    await wait_controlled(phone)
    await wait_synced(phone)
    await phone.reload()
    await wait_ready(phone)
    await expect(phone.locator("#overdue .card")).to_have_count(2)
    await phone.goto(f"{live_server.url}/participants?filter=overdue")
    await wait_ready(phone)
    await expect(phone.locator("#list .card")).to_have_count(2)
    await phone.goto(f"{live_server.url}/participants")
    await wait_ready(phone)
    await expect(phone.locator("#list .card").filter(has_text="暂停")).to_have_count(1)


async def test_an_out_of_range_reading_suggests_urgent_and_asks_before_saving_without_one(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 1)
    pid = str(prog.participants[0].id)
    await phone.goto(f"{live_server.url}/contacts/new?participant={pid}")
    await wait_ready(phone)
    await phone.fill("#glucose_mmol", "2.8")
    await expect(phone.locator("[name=referral][value=urgent]")).to_be_checked()

    # The peer leader says "no referral" themselves: saving asks first, and saves only when told.
    await phone.check("[name=referral][value=none]")
    await phone.click("button[type=submit]")
    await expect(phone.locator("#ask-referral")).to_be_visible()
    await expect(phone.locator("#saved")).to_be_empty()
    await phone.click("#ask-referral [data-answer=none]")
    await expect(phone.locator("#saved")).not_to_be_empty()

    # The next one keeps the suggestion: an urgent referral reaches the server.
    await phone.fill("#glucose_mmol", "19")
    await phone.fill("#referral_reason", "头晕")
    await phone.click("button[type=submit]")
    await wait_answered(phone)
    referrals = sorted(
        await Contact.filter(participant_id=pid).values_list("referral", flat=True)  # type: ignore[arg-type]
    )
    assert referrals == ["none", "urgent"]


async def test_the_timeline_shows_a_meeting_once_with_what_was_discussed(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    prog = await open_synced(phone_context, phone, live_server, 2)
    pid = str(prog.participants[0].id)
    await phone.goto(f"{live_server.url}/meetings/new")
    await wait_ready(phone)
    await phone.select_option("#group_id", str(prog.group.id))
    await phone.fill("#topic", "饮食与运动")
    await phone.fill("#co_leader", "王医生")
    for box in await phone.query_selector_all("[name=attendee_ids]"):
        await box.check()
    await phone.click("button[type=submit]")
    await phone.wait_for_selector("#saved:not(:empty)")
    # The group's next meeting offers the same co-leader.
    await phone.reload()
    await wait_ready(phone)
    await phone.select_option("#group_id", str(prog.group.id))
    await expect(phone.locator("#co_leader")).to_have_value("王医生")
    await phone.goto(f"{live_server.url}/contacts/new?participant={pid}")
    await wait_ready(phone)
    await phone.check("[name=topics][value=diet]")
    await phone.fill("#note", "想少吃主食")
    await phone.click("button[type=submit]")
    await wait_answered(phone)
    await phone.reload()
    await wait_synced(phone)

    await phone.goto(f"{live_server.url}/participants/view?id={pid}")
    await wait_ready(phone)
    cards = phone.locator("#timeline .card")
    await expect(cards).to_have_count(2)  # the meeting once, and the contact
    await expect(cards.filter(has_text="小组活动")).to_contain_text("饮食与运动")
    await expect(cards.filter(has_text="小组活动")).to_contain_text("王医生")
    assert await GroupMeeting.filter(co_leader="王医生").count() == 1
    contact = cards.filter(has_text="想少吃主食")
    await expect(contact).to_contain_text("饮食")
    # Void is behind a menu, not a large button on every card.
    await expect(contact.locator("form.void")).to_be_hidden()
    await contact.locator("summary").click()
    await expect(contact.locator("form.void")).to_be_visible()


async def test_the_status_bar_leaves_room_and_is_readable(
    live_server: LiveServer, phone_context: BrowserContext, phone: Page
) -> None:
    await open_synced(phone_context, phone, live_server, 1)
    for path in ("/", "/participants"):
        await phone.goto(f"{live_server.url}{path}")
        await wait_ready(phone)
        height = await phone.locator("header.top").evaluate("e => e.getBoundingClientRect().height")
        assert height <= 100, height  # of 740 px
        sizes = await phone.locator("#status span, #status button").evaluate_all(
            "els => els.filter(e => e.textContent.trim())"
            ".map(e => parseFloat(getComputedStyle(e).fontSize))"
        )
        assert sizes and min(sizes) >= 16, sizes
