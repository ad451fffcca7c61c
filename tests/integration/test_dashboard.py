"""The dashboard's figures equal the same figures computed here, plainly, from the raw records.

The test's computation walks every ORM object in Python (no aggregate SQL, no code shared with
``server.reports``), and the page's numbers are read back from its accessible tables. Days are
the program's days (``PEERLOG_TIMEZONE``): each test states the zone it counts in.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from server import reports
from server.settings import Settings
from sync.models import (
    Assessment,
    Committee,
    Community,
    Contact,
    Group,
    GroupActivity,
    GroupMeeting,
    ImplementationRating,
    Measurement,
    Participant,
    Role,
    Supervision,
    Training,
    User,
)
from tests import factories
from tests.factories import at

# Days in UTC unless a test says otherwise (the program's zone is what several tests are about).
pytestmark = pytest.mark.timezone("UTC")

MODES = ["home_visit", "phone_call", "text_message", "wechat_group", "group_meeting"]
FUNCTIONS = [
    "being_there",
    "daily_management",
    "social_emotional",
    "linkage_to_care",
    "ongoing_support",
]
STATUSES = ["active"] * 6 + ["paused", "moved", "withdrawn"]


@dataclass
class Program:
    communities: list[Community]
    committees: list[Committee]
    leaders: list[User]
    admin: User
    since: date
    until: date


async def make_program(seed: int = 7, zone: ZoneInfo = ZoneInfo("UTC")) -> Program:
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    today = now.astimezone(zone).date()
    communities = [await factories.community() for _ in range(2)]
    committees = [await factories.committee(c) for c in communities for _ in range(2)]
    leaders = [
        await factories.user(Role.PEER_LEADER, community=c) for c in communities for _ in range(2)
    ]
    for committee in committees:
        group = await factories.group(
            await committee.community,
            leader=rnd.choice([x for x in leaders if x.community_id == committee.community_id]),  # type: ignore[attr-defined]
            committee=committee,
        )
        people = []
        for _ in range(9):
            leader = rnd.choice([x for x in leaders if x.community_id == committee.community_id])  # type: ignore[attr-defined]
            baseline = rnd.choice([None, 7.2, 8.0, 8.6, 9.4, 10.1])
            enrolled = today - timedelta(days=rnd.randint(10, 200))
            baseline_on = enrolled - timedelta(days=rnd.randint(0, 30))
            latest = (
                None
                if baseline is None or rnd.random() < 0.2
                else round(baseline - rnd.uniform(-0.5, 1.5), 1)
            )
            # Latest values dated in the range, before it, and (wrongly) before the baseline.
            latest_on = rnd.choice(
                [
                    today - timedelta(days=rnd.randint(0, 100)),
                    today - timedelta(days=rnd.randint(0, 100)),
                    today - timedelta(days=rnd.randint(130, 250)),
                    baseline_on - timedelta(days=rnd.randint(1, 90)),
                    None,
                ]
            )
            p = await factories.participant(
                committee,
                leader,
                group=group,
                status=rnd.choice(STATUSES),
                enrolled_on=enrolled,
                hba1c_baseline=baseline,
                hba1c_baseline_on=baseline_on,
                hba1c=latest,
                hba1c_on=latest_on if latest is not None else None,
            )
            people.append(p)
            last: datetime | None = None
            follow_up = None
            for _ in range(rnd.randint(0, 6)):
                when = now - timedelta(days=rnd.randint(0, 150), hours=rnd.randint(0, 23))
                voided = rnd.random() < 0.1
                c = await Contact.create(
                    participant=p,
                    peer_leader=rnd.choice([leader, *leaders]),
                    community_id=committee.community_id,  # type: ignore[attr-defined]
                    occurred_at=when,
                    mode=rnd.choice(MODES),
                    functions=rnd.sample(FUNCTIONS, rnd.randint(0, 3)),
                    referral=rnd.choice(["none", "none", "routine", "urgent"]),
                    follow_up_on=(when + timedelta(days=rnd.choice([7, 14, 60])))
                    .astimezone(zone)
                    .date(),
                    voided=voided,
                    void_reason="mistake" if voided else None,
                )
                if not voided and (last is None or when > last):
                    last, follow_up = when, c.follow_up_on
            # What the engine maintains on the participant, set here from the same contacts.
            await Participant.filter(id=p.id).update(
                last_contact_at=last, next_follow_up_on=follow_up
            )
        for _ in range(3):
            when = now - timedelta(days=rnd.randint(0, 150))
            voided = rnd.random() < 0.2
            await GroupMeeting.create(
                group=group,
                community_id=committee.community_id,  # type: ignore[attr-defined]
                peer_leader=group.leader,  # type: ignore[arg-type]
                occurred_at=when,
                attendee_ids=[str(p.id) for p in rnd.sample(people, rnd.randint(0, 6))],
                voided=voided,
                void_reason="mistake" if voided else None,
            )
    admin = await factories.user(Role.ADMIN)
    return Program(communities, committees, leaders, admin, today - timedelta(days=120), today)


def expected(
    participants: list[Participant],
    contacts: list[Contact],
    meetings: list[GroupMeeting],
    since: date,
    until: date,
    *,
    community: Any = None,
    committee: Any = None,
    leader: Any = None,
    today: date,
    zone: ZoneInfo,
    overdue_days: int = 30,
) -> dict[str, Any]:
    """The figures, the long way round, with days counted in ``zone``."""
    by_id = {p.id: p for p in participants}

    def person_in(p: Participant) -> bool:
        return (
            (community is None or p.community_id == community)  # type: ignore[attr-defined]
            and (committee is None or p.committee_id == committee)  # type: ignore[attr-defined]
            and (leader is None or p.peer_leader_id == leader)  # type: ignore[attr-defined]
        )

    def day(c: Any) -> date:
        return c.occurred_at.astimezone(zone).date()

    people = [p for p in participants if person_in(p)]
    active = [p for p in people if p.status == "active"]
    live = [c for c in contacts if not c.voided]
    in_range = []
    for c in live:
        p = by_id[c.participant_id]  # type: ignore[attr-defined]
        if not (since <= day(c) <= until):
            continue
        if community is not None and c.community_id != community:  # type: ignore[attr-defined]
            continue
        if committee is not None and p.committee_id != committee:  # type: ignore[attr-defined]
            continue
        if leader is not None and c.peer_leader_id != leader:  # type: ignore[attr-defined]
            continue
        in_range.append(c)
    window_start = until - timedelta(days=29)
    active_ids = {p.id for p in active}
    reached = {
        c.participant_id  # type: ignore[attr-defined]
        for c in live
        if c.participant_id in active_ids and window_start <= day(c) <= until  # type: ignore[attr-defined]
    }
    months: dict[str, int] = {}
    cursor = date(since.year, since.month, 1)
    while cursor <= until:
        months[cursor.strftime("%Y-%m")] = 0
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    for c in in_range:
        months[day(c).strftime("%Y-%m")] += 1

    overdue = 0
    for p in active:
        mine = [c for c in live if c.participant_id == p.id]  # type: ignore[attr-defined]
        latest = max(mine, key=lambda c: c.occurred_at, default=None)
        last_day = day(latest) if latest else None
        follow = latest.follow_up_on if latest else None
        missed = follow is not None and today > follow and (last_day is None or last_day < follow)
        quiet_since = last_day if last_day else p.enrolled_on
        stale = quiet_since is None or (today - quiet_since) > timedelta(days=overdue_days)
        overdue += missed or stale

    # A follow-up HbA1c is one dated in the range and after the baseline.
    high = [
        p
        for p in people
        if p.hba1c_baseline is not None
        and p.hba1c_baseline >= 8.0
        and p.hba1c is not None
        and p.hba1c_on is not None
        and since <= p.hba1c_on <= until
        and (p.hba1c_baseline_on is None or p.hba1c_on > p.hba1c_baseline_on)
    ]
    # The days of each month the range covers up to today; fewer than the month has = partial.
    covered: dict[str, int] = {}
    day_ = since
    while day_ <= min(until, today):
        covered[day_.strftime("%Y-%m")] = covered.get(day_.strftime("%Y-%m"), 0) + 1
        day_ += timedelta(days=1)
    partial = {}
    for key in months:
        year, month = map(int, key.split("-"))
        length = ((date(year + month // 12, month % 12 + 1, 1)) - date(year, month, 1)).days
        partial[key] = covered.get(key, 0) < length
    at_meetings = [c for c in in_range if c.mode == "group_meeting" or c.meeting_id is not None]  # type: ignore[attr-defined]
    one_to_one = [c for c in in_range if c not in at_meetings]
    group_ids = {
        p.group_id for p in participants if committee is None or p.committee_id == committee
    }  # type: ignore[attr-defined]
    kept_meetings = [
        m
        for m in meetings
        if not m.voided
        and since <= day(m) <= until
        and (community is None or m.community_id == community)  # type: ignore[attr-defined]
        and (committee is None or m.group_id in group_ids)  # type: ignore[attr-defined]
        and (leader is None or m.peer_leader_id == leader)  # type: ignore[attr-defined]
    ]
    return {
        "active": len(active),
        "reached": len(reached),
        "months": months,
        "contacts": len(in_range),
        "modes": {m: sum(c.mode == m for c in in_range) for m in MODES},
        "functions": {f: sum(f in c.functions for c in one_to_one) for f in FUNCTIONS},
        "meeting_functions": {f: sum(f in c.functions for c in at_meetings) for f in FUNCTIONS},
        "one_to_one": len(one_to_one),
        "partial": partial,
        "referrals": {
            r: sum(c.referral == r for c in in_range) for r in ("none", "routine", "urgent")
        },
        "overdue": overdue,
        "hba1c_n": len(high),
        "hba1c_baseline": sum(p.hba1c_baseline for p in high) / len(high) if high else None,  # type: ignore[misc]
        "hba1c_latest": sum(p.hba1c for p in high) / len(high) if high else None,  # type: ignore[misc]
        "meetings": len(kept_meetings),
        "attendances": sum(len(m.attendee_ids) for m in kept_meetings),
        "attendees": len({a for m in kept_meetings for a in m.attendee_ids}),
    }


def table(html: str, table_id: str) -> dict[str, str]:
    """``data-key`` → first ``data-value`` of each row of one table on the page."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return dict(re.findall(r'<tr data-key="([^"]+)"[^>]*>.*?data-value="([^"]*)"', body, re.S))


def attr(html: str, element_id: str, name: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*\b{name}="([^"]*)"', html)
    assert match, (element_id, name)
    return match.group(1)


@pytest.mark.parametrize("settings", ["UTC", "Asia/Shanghai"], indirect=True)
@pytest.mark.parametrize("scope", ["all", "community", "committee", "peer_leader"])
async def test_dashboard_figures_equal_an_independent_count(
    client: httpx.AsyncClient, settings: Settings, scope: str
) -> None:
    program = await make_program(zone=settings.zone)
    participants = await Participant.all()
    contacts = await Contact.all()
    meetings = await GroupMeeting.all()
    filters: dict[str, Any] = {}
    query = f"?since={program.since}&until={program.until}"
    if scope == "community":
        filters["community"] = program.communities[1].id
        query += f"&community={program.communities[1].id}"
    elif scope == "committee":
        filters["committee"] = program.committees[2].id
        query += f"&committee={program.committees[2].id}"
    elif scope == "peer_leader":
        filters["leader"] = program.leaders[0].id
        query += f"&peer_leader={program.leaders[0].id}"
    want = expected(
        participants,
        contacts,
        meetings,
        program.since,
        program.until,
        today=program.until,
        zone=settings.zone,
        **filters,
    )
    assert want["contacts"] > 0 and want["active"] > 0, (
        "the program must give the test something to count"
    )
    if scope == "all":
        assert want["hba1c_n"] > 0 and any(want["meeting_functions"].values())

    await factories.sign_in(client, program.admin, settings)
    client.cookies.set("lang", "en")
    response = await client.get("/admin/dashboard" + query)
    assert response.status_code == 200
    html = response.text

    assert int(attr(html, "fig-reach", "data-active")) == want["active"]
    assert int(attr(html, "fig-reach", "data-reached")) == want["reached"]
    assert int(attr(html, "fig-overdue", "data-value")) == want["overdue"]
    assert int(attr(html, "fig-contacts", "data-value")) == want["contacts"]
    assert {k: int(v) for k, v in table(html, "table-per-month").items()} == want["months"]
    assert {k: int(v) for k, v in table(html, "table-modes").items() if k in MODES} == want["modes"]
    assert {k: int(v) for k, v in table(html, "table-functions").items()} == want["functions"]
    functions_table = html.split('id="table-functions"', 1)[1].split("</table>", 1)[0]
    at_meetings = dict(
        re.findall(r'<tr data-key="(\w+)".*?data-meetings="(\d+)"', functions_table, re.S)
    )
    assert {k: int(v) for k, v in at_meetings.items()} == want["meeting_functions"]
    assert f"Shares of {want['one_to_one']} one-to-one contacts" in html
    month_table = html.split('id="table-per-month"', 1)[1].split("</table>", 1)[0]
    marked = {
        key: 'class="partial"' in attrs
        for key, attrs in re.findall(r'<tr data-key="([\d-]+)"([^>]*)>', month_table)
    }
    assert marked == want["partial"]
    assert {k: int(v) for k, v in table(html, "table-referrals").items()} == want["referrals"]
    meetings_table = table(html, "table-meetings")
    assert int(meetings_table["meetings"]) == want["meetings"]
    assert int(meetings_table["attendances"]) == want["attendances"]
    assert int(meetings_table["attendees"]) == want["attendees"]
    hba1c = table(html, "table-hba1c")
    assert int(hba1c["n"]) == want["hba1c_n"]
    if want["hba1c_n"]:
        assert float(hba1c["baseline"]) == pytest.approx(want["hba1c_baseline"])
        assert float(hba1c["latest"]) == pytest.approx(want["hba1c_latest"])
        assert float(hba1c["change"]) == pytest.approx(
            want["hba1c_latest"] - want["hba1c_baseline"]
        )


async def test_a_coordinator_dashboard_counts_only_their_community(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    program = await make_program(seed=11)
    coordinator = await factories.user(Role.COORDINATOR, community=program.communities[0])
    want = expected(
        await Participant.all(),
        await Contact.all(),
        await GroupMeeting.all(),
        program.since,
        program.until,
        community=program.communities[0].id,
        today=program.until,
        zone=settings.zone,
    )
    await factories.sign_in(client, coordinator, settings)
    # Asking for the other community changes nothing: a coordinator is pinned to their own.
    html = (
        await client.get(
            f"/admin/dashboard?since={program.since}&until={program.until}&community={program.communities[1].id}"
        )
    ).text
    assert int(attr(html, "fig-reach", "data-active")) == want["active"]
    assert int(attr(html, "fig-contacts", "data-value")) == want["contacts"]


async def test_urgent_referrals_are_listed(client: httpx.AsyncClient, settings: Settings) -> None:
    program = await make_program(seed=3)
    urgent = await Contact.filter(
        referral="urgent",
        voided=False,
        occurred_at__gte=datetime.combine(program.since, datetime.min.time(), tzinfo=UTC),
    ).prefetch_related("participant")
    await factories.sign_in(client, program.admin, settings)
    html = (await client.get(f"/admin/dashboard?since={program.since}&until={program.until}")).text
    listed = html.split('id="table-urgent"', 1)[1].split("</table>", 1)[0] if urgent else ""
    for c in urgent[:50]:
        assert c.participant.code in listed


@pytest.mark.parametrize(
    ("zone", "months"),
    [
        # 23:30 UTC on 30 November is 07:30 on 1 December in Shanghai.
        ("Asia/Shanghai", {"2026-11": 1, "2026-12": 2}),
        ("UTC", {"2026-11": 2, "2026-12": 1}),
    ],
)
async def test_a_contact_late_on_a_months_last_utc_day_counts_in_the_programs_month(
    db: str, zone: str, months: dict[str, int]
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    p = await factories.participant(committee, leader)
    for when in (
        "2026-11-30T23:30:00+00:00",
        "2026-11-30T12:00:00+00:00",
        "2026-12-01T12:00:00+00:00",
    ):
        await Contact.create(
            participant=p,
            peer_leader=leader,
            community=community,
            occurred_at=at(when),
            mode="phone_call",
        )
    f = reports.Filters(since=date(2026, 11, 1), until=date(2026, 12, 31))
    d = await reports.dashboard(f, today=date(2026, 12, 31), zone=ZoneInfo(zone), overdue_days=30)
    assert {m.month.strftime("%Y-%m"): m.contacts for m in d.per_month} == months
    # A range of 1 December alone holds the same contacts as December here: the one at 07:30
    # Shanghai time is in it there, and not in UTC.
    one_day = reports.Filters(since=date(2026, 12, 1), until=date(2026, 12, 1))
    d = await reports.dashboard(
        one_day, today=date(2026, 12, 1), zone=ZoneInfo(zone), overdue_days=30
    )
    assert d.contacts == months["2026-12"]


@pytest.mark.parametrize("settings", ["Asia/Shanghai"], indirect=True)
async def test_the_dashboard_says_which_time_zone_days_are_counted_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    html = (await client.get("/admin/dashboard")).text
    note = html.split('id="time-zone-note"', 1)[1].split("</p>", 1)[0]
    assert "Asia/Shanghai" in note
    # The default period ends on the program's today, not on UTC's.
    today = datetime.now(UTC).astimezone(settings.zone).date()
    assert f'name="until" value="{today.isoformat()}"' in html


async def test_the_current_partial_month_is_marked_and_given_per_30_days(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """The issue's case: 31 contacts in October and 25 in 25 days of November look like a
    decline per month (31 vs 25) and are level per 30 days (30.0 vs 30.0)."""
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    p = await factories.participant(committee, leader)
    days = [date(2026, 10, d) for d in range(1, 32)] + [date(2026, 11, d) for d in range(1, 26)]
    for day in days:
        await Contact.create(
            participant=p,
            peer_leader=leader,
            community=community,
            occurred_at=datetime(day.year, day.month, day.day, 4, tzinfo=UTC),
            mode="phone_call",
        )
    f = reports.Filters(since=date(2026, 10, 1), until=date(2026, 11, 25))
    d = await reports.dashboard(f, today=date(2026, 11, 25), zone=settings.zone, overdue_days=30)
    october, november = d.per_month
    assert (october.contacts, october.partial) == (31, False)
    assert (november.contacts, november.partial, november.days) == (25, True, 25)
    assert round(october.per_30_days, 2) == round(november.per_30_days, 2) == 30.0
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    client.cookies.set("lang", "en")
    html = (await client.get("/admin/dashboard?since=2026-10-01&until=2026-11-25")).text
    months = html.split('id="table-per-month"', 1)[1].split("</table>", 1)[0]
    assert 'data-key="2026-11" class="partial" data-days="25"' in months
    assert "partial: 25 of 30 days" in months and "partial" not in months.split("2026-11")[0]


async def test_key_function_shares_are_of_one_to_one_contacts_not_meeting_attendances(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    group = await factories.group(community, leader)
    people = [await factories.participant(committee, leader, group=group) for _ in range(3)]
    when = datetime.now(UTC) - timedelta(days=2)
    meeting = await GroupMeeting.create(
        group=group,
        peer_leader=leader,
        community=community,
        occurred_at=when,
        attendee_ids=[str(p.id) for p in people],
    )
    for p in people:  # a meeting's attendances: no key functions
        await Contact.create(
            participant=p,
            peer_leader=leader,
            community=community,
            occurred_at=when,
            mode="group_meeting",
            meeting=meeting,
        )
    await Contact.create(
        participant=people[0],
        peer_leader=leader,
        community=community,
        occurred_at=when,
        mode="home_visit",
        functions=["being_there"],
    )
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    client.cookies.set("lang", "en")
    html = (await client.get("/admin/dashboard")).text
    functions = html.split('id="table-functions"', 1)[1].split("</table>", 1)[0]
    share = re.search(r'data-key="being_there">.*?data-share="([^"]*)"', functions, re.S)
    assert share and float(share.group(1)) == 1.0  # 1 of 1 one-to-one contact, not 1 of 4
    assert "Shares of 1 one-to-one contacts; the 3 contacts at group meetings" in html


async def test_the_hba1c_panel_counts_latest_values_dated_in_the_period_after_the_baseline(
    db: str,
) -> None:
    """The issue's case: a "latest" dated three months before the baseline moved a community's
    figure; and a value from before the period is not a change in it."""
    community = await factories.community()
    committee = await factories.committee(community)

    async def person(latest: float, latest_on: date) -> None:
        await factories.participant(
            committee,
            hba1c_baseline=9.0,
            hba1c_baseline_on=date(2026, 6, 1),
            hba1c=latest,
            hba1c_on=latest_on,
        )

    await person(8.0, date(2026, 10, 15))  # counted: in the period, after the baseline
    await person(9.6, date(2026, 3, 1))  # before the baseline
    await person(7.0, date(2026, 7, 1))  # after the baseline, before the period
    f = reports.Filters(since=date(2026, 9, 1), until=date(2026, 11, 25))
    d = await reports.dashboard(f, today=date(2026, 11, 25), zone=ZoneInfo("UTC"), overdue_days=30)
    assert (d.hba1c_n, d.hba1c_baseline_mean, d.hba1c_latest_mean) == (1, 9.0, 8.0)
    wider = reports.Filters(since=date(2026, 1, 1), until=date(2026, 11, 25))
    d = await reports.dashboard(
        wider, today=date(2026, 11, 25), zone=ZoneInfo("UTC"), overdue_days=30
    )
    assert d.hba1c_n == 2 and d.hba1c_change_mean == pytest.approx(-1.5)


# --- program evaluation (SPEC 6, issue 14) ----------------------------------------------------

CHANNELS = ["wechat_group", "neighbourhood_activity", "community_assistance"]
MARKERS = {
    "hba1c": (6.0, 11.0),
    "bp_systolic": (110, 170),
    "bp_diastolic": (65, 100),
    "weight": (50, 90),
}
RATED = [
    "being_there",
    "daily_management",
    "social_emotional",
    "linkage_to_care",
    "ongoing_support",
    "committee_use",
    "resource_linkage",
]


async def add_evaluation_records(program: Program, seed: int, zone: ZoneInfo) -> None:
    """Measurements, DDS-2 assessments, group activities, supervision, training and ratings
    beside ``make_program``'s records, with voided rows and rows outside the period."""
    rnd = random.Random(seed)
    today = program.until
    now = datetime.now(UTC)
    # A deactivated peer leader: in no figure.
    await factories.user(Role.PEER_LEADER, community=program.communities[0], is_active=False)
    coordinators = {
        c.id: await factories.user(Role.COORDINATOR, community=c) for c in program.communities
    }
    for p in await Participant.all():
        for marker, (low, high) in MARKERS.items():
            for _ in range(rnd.randint(0, 4)):
                await factories.measurement(
                    p,
                    marker,
                    round(rnd.uniform(low, high), 1),
                    today - timedelta(days=rnd.randint(0, 330)),
                    source=rnd.choice(["clinic", "clinic", "self_report"]),
                    seq=rnd.randint(0, 3),
                    voided=rnd.random() < 0.1,
                )
        leader = await User.get(id=p.peer_leader_id)  # type: ignore[attr-defined]
        for point, count in (
            ("baseline", rnd.randint(0, 2)),
            ("follow_up", rnd.randint(0, 3)),
            ("other", 1),
        ):
            for _ in range(count):
                await factories.assessment(
                    p,
                    leader,
                    point,
                    today - timedelta(days=rnd.randint(0, 300)),
                    {"dds2_1": rnd.randint(1, 6), "dds2_2": rnd.randint(1, 6)},
                    voided=rnd.random() < 0.1,
                )
    groups = await Group.all()
    for leader in program.leaders:
        mine = [g for g in groups if g.community_id == leader.community_id]  # type: ignore[attr-defined]
        committees = [c for c in program.committees if c.community_id == leader.community_id]  # type: ignore[attr-defined]
        for _ in range(rnd.randint(2, 9)):
            where: dict[str, Any] = (
                {"group": rnd.choice(mine)}
                if rnd.random() < 0.5
                else {"committee": rnd.choice(committees)}
            )
            await factories.group_activity(
                leader,
                rnd.choice(CHANNELS),
                now - timedelta(days=rnd.randint(0, 150), hours=rnd.randint(0, 23)),
                voided=rnd.random() < 0.1,
                **where,
            )
        for _ in range(rnd.randint(0, 3)):
            await factories.supervision(
                leader,
                coordinators[leader.community_id],  # type: ignore[attr-defined]
                now - timedelta(days=rnd.randint(0, 90), hours=rnd.randint(0, 23)),
                voided=rnd.random() < 0.15,
            )
        for year, quarter in (
            (today.year - 1, 4),
            (today.year, 1),
            (today.year, 2),
            (today.year, 3),
            (today.year, 4),
        ):
            if rnd.random() < 0.7:
                await factories.rating(
                    leader,
                    coordinators[leader.community_id],  # type: ignore[attr-defined]
                    f"{year}-Q{quarter}",
                    voided=rnd.random() < 0.1,
                    **{k: rnd.choice([None, 1, 2, 3, 4, 5]) for k in RATED},
                )
    for c in program.communities:
        leaders = [x for x in program.leaders if x.community_id == c.id]  # type: ignore[attr-defined]
        for _ in range(3):
            await factories.training(
                coordinators[c.id],
                today - timedelta(days=rnd.randint(0, 200)),
                rnd.sample(leaders, rnd.randint(0, len(leaders))),
                hours=rnd.choice([None, 1.5, 2.0]),
                voided=rnd.random() < 0.15,
            )
    await factories.training(
        program.admin, today - timedelta(days=20), program.leaders[:3], community=None, hours=3.0
    )


def months_later(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def expected_evaluation(
    participants: list[Participant],
    measurements: list[Measurement],
    assessments: list[Assessment],
    activities: list[GroupActivity],
    supervisions: list[Supervision],
    trainings: list[Training],
    ratings: list[ImplementationRating],
    leaders: list[User],
    groups: list[Group],
    since: date,
    until: date,
    *,
    community: Any = None,
    committee: Any = None,
    leader: Any = None,
    today: date,
    zone: ZoneInfo,
    window: tuple[int, int] = (3, 9),
) -> dict[str, Any]:
    """The evaluation figures, the long way round. A committee implies its community (the page
    narrows to it)."""
    if committee is not None:
        community = next(p.community_id for p in participants if p.committee_id == committee)  # type: ignore[attr-defined]
    people = [
        p
        for p in participants
        if (community is None or p.community_id == community)  # type: ignore[attr-defined]
        and (committee is None or p.committee_id == committee)  # type: ignore[attr-defined]
        and (leader is None or p.peer_leader_id == leader)  # type: ignore[attr-defined]
    ]
    ids = {p.id for p in people}
    active = sum(p.status == "active" for p in people)
    pairs: dict[str, dict[Any, tuple[float, float]]] = {m: {} for m in MARKERS}
    for p in people:
        for marker in MARKERS:
            rows = sorted(
                (
                    r
                    for r in measurements
                    if r.participant_id == p.id  # type: ignore[attr-defined]
                    and r.marker == marker
                    and not r.voided
                    and r.measured_on <= until
                ),
                key=lambda r: (r.measured_on, r.seq, str(r.id)),
            )
            clinic = [r for r in rows if r.source == "clinic"]
            if not rows:
                continue
            base = (clinic or rows)[0]
            lo = months_later(base.measured_on, window[0])
            hi = min(months_later(base.measured_on, window[1]), until)
            later = [r for r in rows if lo <= r.measured_on <= hi and r is not base]
            if later and later[-1].measured_on >= since:
                pairs[marker][p.id] = (base.value, later[-1].value)
    distress: dict[Any, tuple[float, float]] = {}
    for p in people:
        mine = sorted(
            (
                a
                for a in assessments
                if a.participant_id == p.id and not a.voided and a.assessed_on <= until  # type: ignore[attr-defined]
            ),
            key=lambda a: (a.assessed_on, a.time_point, a.seq, a.score),
        )
        bases = [a for a in mine if a.time_point == "baseline"]
        if not bases:
            continue
        follow = [
            a
            for a in mine
            if a.time_point == "follow_up"
            and since <= a.assessed_on <= until
            and a.assessed_on > bases[0].assessed_on
        ]
        if follow:
            distress[p.id] = (bases[0].score, follow[-1].score)

    def summary(values: list[tuple[float, float]]) -> dict[str, Any]:
        return {
            "n": len(values),
            "baseline": mean([b for b, _ in values]),
            "follow_up": mean([x for _, x in values]),
            "change": mean([x - b for b, x in values]),
        }

    changes = {m: summary(list(pairs[m].values())) for m in MARKERS}
    changes["hba1c_high"] = summary([v for v in pairs["hba1c"].values() if v[0] >= 8.0])
    changes["distress"] = summary(list(distress.values()))

    committee_groups = {g.id for g in groups if g.committee_id == committee}  # type: ignore[attr-defined]
    months: dict[str, dict[str, int]] = {}
    cursor = date(since.year, since.month, 1)
    while cursor <= until:
        months[cursor.strftime("%Y-%m")] = dict.fromkeys(CHANNELS, 0)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    for a in activities:
        day = a.occurred_at.astimezone(zone).date()
        if (
            a.voided
            or not since <= day <= until
            or (community is not None and a.community_id != community)  # type: ignore[attr-defined]
            or (
                committee is not None
                and a.committee_id != committee  # type: ignore[attr-defined]
                and a.group_id not in committee_groups  # type: ignore[attr-defined]
            )
            or (leader is not None and a.peer_leader_id != leader)  # type: ignore[attr-defined]
        ):
            continue
        months[day.strftime("%Y-%m")][a.channel] += 1

    in_scope = [
        u
        for u in leaders
        if u.role == "peer_leader"
        and u.is_active
        and (community is None or u.community_id == community)  # type: ignore[attr-defined]
        and (leader is None or u.id == leader)
        and (
            committee is None
            or any(p.peer_leader_id == u.id and p.committee_id == committee for p in participants)  # type: ignore[attr-defined]
        )
    ]
    scope_ids = {u.id for u in in_scope}
    first_day = until - timedelta(days=29)
    supervised = {
        s.peer_leader_id  # type: ignore[attr-defined]
        for s in supervisions
        if not s.voided and first_day <= s.occurred_at.astimezone(zone).date() <= until
    } & scope_ids
    kept_trainings = [
        t
        for t in trainings
        if not t.voided
        and since <= t.held_on <= until
        and (community is None or t.community_id in (community, None))  # type: ignore[attr-defined]
    ]
    attended = [
        {a for a in t.attendee_ids if a in {str(i) for i in scope_ids}} for t in kept_trainings
    ]
    per_leader = {}
    for u in in_scope:
        items: list[int] = []
        for r in ratings:
            year, quarter = int(r.period[:4]), int(r.period[-1])
            first = date(year, 3 * quarter - 2, 1)
            last = months_later(first, 3) - timedelta(days=1)
            if r.voided or r.peer_leader_id != u.id or last < since or first > until:  # type: ignore[attr-defined]
                continue
            items += [getattr(r, k) for k in RATED if getattr(r, k) is not None]
        theirs = {p.id for p in people if p.peer_leader_id == u.id}  # type: ignore[attr-defined]
        h = [v for pid, v in pairs["hba1c"].items() if pid in theirs]
        dd = [v for pid, v in distress.items() if pid in theirs]
        per_leader[str(u.id)] = {
            "rating": mean([float(i) for i in items]),
            "n": len(h),
            "hba1c": mean([x - b for b, x in h]),
            "distress_n": len(dd),
            "distress": mean([x - b for b, x in dd]),
        }
    assert ids or not people
    return {
        "active": active,
        "changes": changes,
        "months": months,
        "leaders": len(in_scope),
        "supervised": len(supervised),
        "unsupervised": {str(u.id) for u in in_scope if u.id not in supervised},
        "trainings": len(kept_trainings),
        "hours": sum(t.hours or 0 for t in kept_trainings),
        "attendances": sum(len(a) for a in attended),
        "trained": len(set().union(*attended)) if attended else 0,
        "per_leader": per_leader,
    }


def cells(html: str, table_id: str, name: str) -> dict[str, str]:
    """``data-key`` → the ``name`` attribute of each row of one table."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return dict(re.findall(rf'<tr data-key="([^"]+)"[^>]*>.*?\b{name}="([^"]*)"', body, re.S))


def close(text: str, value: float | None) -> bool:
    return text == "" if value is None else float(text) == pytest.approx(value)


@pytest.mark.parametrize("settings", ["Asia/Shanghai"], indirect=True)
@pytest.mark.parametrize("scope", ["all", "community", "committee", "peer_leader"])
async def test_evaluation_figures_equal_an_independent_count(
    client: httpx.AsyncClient, settings: Settings, scope: str
) -> None:
    program = await make_program(seed=5, zone=settings.zone)
    await add_evaluation_records(program, seed=scope.__len__(), zone=settings.zone)
    filters: dict[str, Any] = {}
    query = f"?since={program.since}&until={program.until}"
    if scope == "community":
        filters["community"] = program.communities[0].id
        query += f"&community={program.communities[0].id}"
    elif scope == "committee":
        filters["committee"] = program.committees[1].id
        query += f"&committee={program.committees[1].id}"
    elif scope == "peer_leader":
        filters["leader"] = program.leaders[2].id
        query += f"&peer_leader={program.leaders[2].id}"
    want = expected_evaluation(
        await Participant.all(),
        await Measurement.all(),
        await Assessment.all(),
        await GroupActivity.all(),
        await Supervision.all(),
        await Training.all(),
        await ImplementationRating.all(),
        await User.all(),
        await Group.all(),
        program.since,
        program.until,
        today=program.until,
        zone=settings.zone,
        **filters,
    )
    assert want["changes"]["hba1c"]["n"] > 0 and want["changes"]["distress"]["n"] > 0
    assert any(sum(m.values()) for m in want["months"].values()) and want["leaders"] > 0
    if scope == "all":
        assert want["changes"]["hba1c_high"]["n"] > 0 and want["trainings"] > 0
        assert 0 < want["supervised"] < want["leaders"]

    await factories.sign_in(client, program.admin, settings)
    client.cookies.set("lang", "en")
    html = (await client.get("/admin/dashboard" + query)).text

    for key, figures in want["changes"].items():
        assert int(table(html, "table-outcomes")[key]) == figures["n"], key
        assert close(cells(html, "table-outcomes", "data-baseline")[key], figures["baseline"]), key
        assert close(cells(html, "table-outcomes", "data-follow-up")[key], figures["follow_up"]), (
            key
        )
        assert close(cells(html, "table-outcomes", "data-change")[key], figures["change"]), key

    assert {k: int(v) for k, v in table(html, "table-activities").items()} == {
        k: sum(v.values()) for k, v in want["months"].items()
    }
    for channel in CHANNELS:
        got = cells(html, "table-activities", f"data-channel-{channel}")
        assert {k: int(v) for k, v in got.items()} == {
            k: v[channel] for k, v in want["months"].items()
        }
    rates = cells(html, "table-activities", "data-rate")
    for key, by_channel in want["months"].items():
        assert float(rates[key]) == pytest.approx(
            sum(by_channel.values()) / want["active"], abs=1e-4
        )
    activity_table = html.split('id="table-activities"', 1)[1].split("</table>", 1)[0]
    marked = {
        key: 'class="partial"' in attrs
        for key, attrs in re.findall(r'<tr data-key="([\d-]+)"([^>]*)>', activity_table)
    }
    # The current month is partial (unless today is its last day), the one before it whole.
    this_month = program.until.strftime("%Y-%m")
    last_month = (program.until.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    month_end = (program.until + timedelta(days=1)).day == 1
    assert marked[this_month] is not month_end and marked[last_month] is False

    assert int(attr(html, "fig-supervision", "data-leaders")) == want["leaders"]
    assert int(attr(html, "fig-supervision", "data-supervised")) == want["supervised"]
    listed = (
        set(
            re.findall(
                r'<tr data-key="([^"]+)"',
                html.split('id="table-unsupervised"', 1)[1].split("</table>", 1)[0],
            )
        )
        if want["unsupervised"]
        else set()
    )
    assert listed == want["unsupervised"]
    training = table(html, "table-training")
    assert int(training["trainings"]) == want["trainings"]
    assert float(training["hours"]) == pytest.approx(want["hours"])
    assert int(training["attendances"]) == want["attendances"]
    assert int(training["trained"]) == want["trained"]

    per_leader = want["per_leader"]
    assert {k: int(v) for k, v in table(html, "table-ratings").items()} == {
        k: v["n"] for k, v in per_leader.items()
    }
    for name, key in (
        ("data-rating", "rating"),
        ("data-hba1c", "hba1c"),
        ("data-distress", "distress"),
    ):
        got = cells(html, "table-ratings", name)
        for leader_id, figures in per_leader.items():
            assert close(got[leader_id], figures[key]), (name, leader_id)
    got = cells(html, "table-ratings", "data-distress-n")
    assert {k: int(v) for k, v in got.items()} == {
        k: v["distress_n"] for k, v in per_leader.items()
    }
    # The scatter has a dot for each peer leader with both a rating and an HbA1c change.
    dots = html.split('class="scatter"', 1)[1].split("</svg>", 1)[0].count("<circle")
    assert dots == sum(
        v["rating"] is not None and v["hba1c"] is not None for v in per_leader.values()
    )


async def test_the_follow_up_window_is_the_evaluators_and_a_bad_one_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Baseline 9.0 on 1 March, then 8.0 on 1 July, 7.0 on 1 November, 7.5 (self-reported) on 20
    November and a voided 6.0: the default window (3–9 months) takes the newest counted value,
    a 3–6 window the July one, a period ending in October the July one too; a follow-up dated
    before the period is not a change in it."""
    community = await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    p = await factories.participant(committee, leader, enrolled_on=date(2026, 3, 1))
    for value, on in ((9.0, date(2026, 3, 1)), (8.0, date(2026, 7, 1)), (7.0, date(2026, 11, 1))):
        await factories.measurement(p, "hba1c", value, on)
    await factories.measurement(p, "hba1c", 6.0, date(2026, 11, 5), voided=True)
    await factories.measurement(p, "hba1c", 7.5, date(2026, 11, 20), source="self_report")
    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)

    async def follow_up(query: str) -> str:
        response = await client.get("/admin/dashboard?" + query)
        assert response.status_code == 200
        return cells(response.text, "table-outcomes", "data-follow-up")["hba1c_high"]

    assert float(await follow_up("since=2026-06-01&until=2026-11-25")) == 7.5
    assert (
        float(await follow_up("since=2026-06-01&until=2026-11-25&window_from=3&window_to=6")) == 8.0
    )
    assert float(await follow_up("since=2026-06-01&until=2026-10-31")) == 8.0
    assert await follow_up("since=2026-08-01&until=2026-10-31") == ""
    for bad, field in (
        ("window_from=x", "window_from"),
        ("window_to=99", "window_to"),
        ("window_from=7&window_to=5", "window_to"),
    ):
        response = await client.get("/admin/dashboard?" + bad)
        assert response.status_code == 400
        assert response.json()["message"].startswith(field + ":")
