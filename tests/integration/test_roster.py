"""The roster: the right people with the right flags, sorted and filtered; a volunteer marks
"needs visit" through the sync engine, and the peer leader's phone receives it. "Today" and
"overdue" are the program's days (``PEERLOG_TIMEZONE``): each test states its zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.dates import format_date

from server.admin.roster import roster_rows
from server.reports import is_overdue, today_in
from server.settings import Settings
from sync.models import Mutation, Participant, Role
from tests import factories
from tests.factories import at

# Days in UTC unless a test says otherwise (the program's zone is what several tests are about).
pytestmark = pytest.mark.timezone("UTC")

SHANGHAI, UTC_ZONE = ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC")


def names(html: str) -> list[str]:
    return re.findall(r'class="roster-name">([^<]+?) <span', html)


async def test_overdue_and_needs_visit_flags_follow_the_rule(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=committee)
    now = datetime.now(UTC)
    today = today_in(settings.zone, now)
    people = {
        "fresh": dict(
            last_contact_at=now - timedelta(days=3), next_follow_up_on=today + timedelta(days=7)
        ),
        "missed follow-up": dict(
            last_contact_at=now - timedelta(days=10), next_follow_up_on=today - timedelta(days=1)
        ),
        "quiet": dict(last_contact_at=now - timedelta(days=45)),
        "never, new": dict(enrolled_on=today - timedelta(days=5)),
        "never, old": dict(enrolled_on=today - timedelta(days=60)),
        "withdrawn": dict(status="withdrawn", last_contact_at=now - timedelta(days=90)),
        "moved": dict(
            needs_visit=True, needs_visit_reason="moved to Building 9", last_contact_at=now
        ),
    }
    for name, kw in people.items():
        await factories.participant(committee, full_name=name, **kw)
    await factories.sign_in(client, volunteer, settings)

    overdue = names((await client.get("/admin/roster?flag=overdue&sort=name")).text)
    assert overdue == ["missed follow-up", "never, old", "quiet"]
    visit = (await client.get("/admin/roster?flag=needs_visit")).text
    assert names(visit) == ["moved"] and "moved to Building 9" in visit
    assert names((await client.get("/admin/roster?status=withdrawn")).text) == ["withdrawn"]
    assert names((await client.get("/admin/roster?q=never&sort=name")).text) == [
        "never, new",
        "never, old",
    ]
    by_contact = names((await client.get("/admin/roster?sort=last_contact&status=active")).text)
    assert by_contact[:2] == ["never, new", "never, old"]  # never contacted first
    assert by_contact[-1] == "moved"
    # SPEC 1's roster fields only: the program code is for staff.
    codes = await Participant.filter(committee_id=committee.id).values_list("code", flat=True)
    page = (await client.get("/admin/roster")).text
    assert codes and not [c for c in codes if c in page]


async def test_a_volunteer_marks_needs_visit_through_the_engine(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=committee)
    p = await factories.participant(committee, full_name="Mrs Gao", enrolled_on=date(2026, 5, 1))
    await factories.sign_in(client, volunteer, settings)

    response = await client.post(
        f"/admin/roster/{p.id}/needs-visit",
        data={"needs_visit": "1", "reason": "moved out", "version": str(p.version)},
    )
    assert response.status_code == 303
    after = await Participant.get(id=p.id)
    assert (after.needs_visit, after.needs_visit_reason) == (True, "moved out")
    assert after.version == p.version + 1 and after.seq > p.seq
    log = await Mutation.get(record_id=p.id)
    assert log.user_id == volunteer.id and log.status == "applied"  # type: ignore[attr-defined]

    await client.post(
        f"/admin/roster/{p.id}/needs-visit",
        data={"needs_visit": "0", "version": str(after.version)},
    )
    cleared = await Participant.get(id=p.id)
    assert (cleared.needs_visit, cleared.needs_visit_reason) == (False, None)


async def test_a_volunteer_cannot_mark_someone_outside_their_committee(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    mine, other = await factories.committee(community), await factories.committee(community)
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=mine)
    stranger = await factories.participant(other)
    await factories.sign_in(client, volunteer, settings)
    response = await client.post(
        f"/admin/roster/{stranger.id}/needs-visit", data={"needs_visit": "1"}
    )
    assert response.status_code == 404
    assert not (await Participant.get(id=stranger.id)).needs_visit


async def test_the_print_layout_has_a_header_with_committee_and_date(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community(name="Xinhua")
    committee = await factories.committee(community, name="Willow Lane")
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    await factories.participant(committee)
    await factories.sign_in(client, coordinator, settings)
    html = (await client.get(f"/admin/roster?committee={committee.id}")).text
    header = html.split('class="print-header"', 1)[1].split("</div>", 1)[0]
    assert "Xinhua" in header and "Willow Lane" in header
    assert "css/admin" in html and 'data-action="print"' in html and "onclick" not in html


def test_a_follow_up_is_overdue_from_the_programs_midnight_not_from_utcs() -> None:
    contacted = at("2026-11-25T10:00:00+08:00")

    def overdue(now: str, zone: ZoneInfo) -> bool:
        today = today_in(zone, at(now))
        return is_overdue(contacted, date(2026, 12, 1), date(2026, 5, 1), today, 30, zone)

    # In Shanghai 1 December ends at 16:00 UTC: one minute before, the follow-up is due today.
    assert not overdue("2026-12-01T23:59:00+08:00", SHANGHAI)
    assert overdue("2026-12-02T00:00:00+08:00", SHANGHAI)
    # Counted in UTC the same instant is still 1 December: the turn comes eight hours later.
    assert not overdue("2026-12-02T00:00:00+08:00", UTC_ZONE)
    assert overdue("2026-12-02T00:00:00+00:00", UTC_ZONE)


def test_a_contact_early_on_the_follow_up_day_counts_on_that_day() -> None:
    # 04:00 on 1 December in Shanghai is still 30 November in UTC.
    contacted = at("2026-12-01T04:00:00+08:00")
    today = date(2026, 12, 2)
    assert not is_overdue(contacted, date(2026, 12, 1), date(2026, 5, 1), today, 30, SHANGHAI)
    assert is_overdue(contacted, date(2026, 12, 1), date(2026, 5, 1), today, 30, UTC_ZONE)


async def test_roster_rows_flag_overdue_as_of_the_programs_today(db: str) -> None:
    committee = await factories.committee()
    await factories.participant(
        committee,
        full_name="due 1 December",
        last_contact_at=at("2026-11-25T10:00:00+08:00"),
        next_follow_up_on=date(2026, 12, 1),
    )

    async def flags(now: str) -> list[tuple[bool, date]]:
        rows = await roster_rows(
            committee, today=today_in(SHANGHAI, at(now)), zone=SHANGHAI, overdue_days=30
        )
        return [(r["overdue"], r["last_contact_at"].date()) for r in rows]

    assert await flags("2026-12-01T23:59:00+08:00") == [(False, date(2026, 11, 25))]
    assert await flags("2026-12-02T00:00:00+08:00") == [(True, date(2026, 11, 25))]


@pytest.mark.parametrize("settings", ["Asia/Shanghai"], indirect=True)
async def test_the_roster_prints_the_programs_date_and_names_its_time_zone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    committee = await factories.committee()
    coordinator = await factories.user(Role.COORDINATOR, community=await committee.community)
    # 07:30 on a Shanghai morning is the evening before in UTC: the roster shows Shanghai's day.
    await factories.participant(committee, last_contact_at=at("2026-12-01T07:30:00+08:00"))
    await factories.sign_in(client, coordinator, settings)
    html = (await client.get(f"/admin/roster?committee={committee.id}")).text
    locale = "zh_Hans_CN"
    header = html.split('class="print-header"', 1)[1].split("</div>", 1)[0]
    today = today_in(SHANGHAI)
    assert format_date(today, locale=locale) in header
    row = html.split('id="roster"', 1)[1]
    assert format_date(date(2026, 12, 1), locale=locale) in row
    assert format_date(date(2026, 11, 30), locale=locale) not in row
    assert "Asia/Shanghai" in html.split('id="time-zone-note"', 1)[1].split("</p>", 1)[0]
