"""The staff start page shows the last week's urgent referrals at once (SPEC 2): a coordinator
those of their community, an administrator every community's; nothing voided or older."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from server.settings import Settings
from sync.models import Community, Contact, Role, User
from tests import factories


async def urgent(
    leader: User, community: Community, days_ago: float, reason: str, **kw: object
) -> None:
    committee = await factories.committee(community)
    person = await factories.participant(committee, leader)
    await Contact.create(
        participant=person,
        peer_leader=leader,
        community=community,
        occurred_at=datetime.now(UTC) - timedelta(days=days_ago),
        mode="home_visit",
        referral="urgent",
        referral_reason=reason,
        **kw,
    )


async def test_a_coordinator_sees_this_weeks_urgent_referrals_of_their_community_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ours, theirs = await factories.community(), await factories.community()
    leader = await factories.user(Role.PEER_LEADER, community=ours)
    other_leader = await factories.user(Role.PEER_LEADER, community=theirs)
    await urgent(leader, ours, 0.1, "chest pain since this morning")
    await urgent(leader, ours, 2, "glucose 2.8, shaking")
    await urgent(leader, ours, 12, "an old one")
    await urgent(leader, ours, 1, "entered by mistake", voided=True, void_reason="wrong person")
    await urgent(other_leader, theirs, 1, "another community")

    coordinator = await factories.user(Role.COORDINATOR, community=ours)
    await factories.sign_in(client, coordinator, settings)
    client.cookies.set("lang", "en")
    html = (await client.get("/admin")).text
    assert "Urgent referrals, last 7 days" in html
    assert html.index("chest pain since this morning") < html.index("glucose 2.8, shaking")
    for hidden in ("an old one", "entered by mistake", "another community"):
        assert hidden not in html

    admin = await factories.user(Role.ADMIN)
    await factories.sign_in(client, admin, settings)
    client.cookies.set("lang", "zh-CN")
    html = (await client.get("/admin")).text
    assert "最近 7 天的紧急转诊" in html
    assert "another community" in html and "chest pain since this morning" in html


async def test_a_quiet_week_says_so(client: httpx.AsyncClient, settings: Settings) -> None:
    await factories.sign_in(client, await factories.user(Role.COORDINATOR), settings)
    client.cookies.set("lang", "en")
    html = (await client.get("/admin")).text
    assert "No urgent referrals in the last 7 days." in html


async def test_a_reading_outside_the_safe_range_without_an_urgent_referral_reaches_the_coordinator(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    leader = await factories.user(Role.PEER_LEADER, community=community)
    committee = await factories.committee(community)
    people = {}
    for name, kw in {
        "low glucose, no referral": {"glucose_mmol": 2.8, "referral": "none"},
        "high pressure, routine": {"bp_systolic": 185, "bp_diastolic": 95, "referral": "routine"},
        "already urgent": {"glucose_mmol": 2.5, "referral": "urgent"},
        "in range": {"glucose_mmol": 6.1, "bp_systolic": 130, "bp_diastolic": 80},
    }.items():
        people[name] = await factories.participant(committee, leader, full_name=name)
        await Contact.create(
            participant=people[name],
            peer_leader=leader,
            community=community,
            occurred_at=datetime.now(UTC) - timedelta(hours=3),
            mode="phone_call",
            **kw,
        )
    await factories.sign_in(
        client, await factories.user(Role.COORDINATOR, community=community), settings
    )
    client.cookies.set("lang", "en")
    html = (await client.get("/admin")).text
    table = html.split('id="table-unreferred"', 1)[1].split("</table>", 1)[0]
    assert "low glucose, no referral" in table and "2.8 mmol/L" in table
    assert "high pressure, routine" in table and "185/95 mmHg" in table
    assert "already urgent" not in table and "in range" not in table
