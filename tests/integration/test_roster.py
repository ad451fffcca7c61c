"""The roster: the right people with the right flags, sorted and filtered; a volunteer marks
"needs visit" through the sync engine, and the peer leader's phone receives it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx

from server.settings import Settings
from sync.models import Mutation, Participant, Role
from tests import factories


def names(html: str) -> list[str]:
    return re.findall(r'class="roster-name">([^<]+?) <span', html)


async def test_overdue_and_needs_visit_flags_follow_the_rule(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=committee)
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
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
