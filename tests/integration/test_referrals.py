"""The urgent-referrals worklist: open ones first with the phone to call, marked handled with a
note (a migration's table), audited without the note, scoped to the coordinator's community."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from server.settings import Settings
from sync.models import AuditEvent, Contact, ReferralFollowUp, Role
from tests import factories


async def urgent(participant, leader, community, days_ago: int, reason: str) -> Contact:  # type: ignore[no-untyped-def]
    return await Contact.create(
        participant=participant,
        peer_leader=leader,
        community=community,
        occurred_at=datetime.now(UTC) - timedelta(days=days_ago),
        mode="home_visit",
        referral="urgent",
        referral_reason=reason,
        referral_to="chc_doctor",
    )


async def test_the_worklist_lists_open_referrals_first_and_records_who_handled_them(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community, elsewhere = await factories.community(), await factories.community()
    committee = await factories.committee(community)
    leader = await factories.user(Role.PEER_LEADER, community=community)
    wang = await factories.participant(committee, leader, full_name="王秀英", phone="13911112222")
    li = await factories.participant(committee, leader, full_name="李建国", phone="13933334444")
    far = await factories.participant(await factories.committee(elsewhere), full_name="远方")
    older = await urgent(wang, leader, community, 3, "低血糖 2.8")
    newer = await urgent(li, leader, community, 1, "血压很高")
    await urgent(far, leader, elsewhere, 1, "别处")
    await Contact.create(  # not urgent: not on the list
        participant=li,
        peer_leader=leader,
        community=community,
        occurred_at=datetime.now(UTC),
        mode="phone_call",
        referral="routine",
    )
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    await factories.sign_in(client, coordinator, settings)
    client.cookies.set("lang", "en")

    start = (await client.get("/admin")).text
    assert "2 urgent referrals wait to be handled" in start
    html = (await client.get("/admin/referrals")).text
    waiting = html.split('id="referrals-open"', 1)[1].split("</ol>", 1)[0]
    # The longest waiting first; the phone to call; another community's never.
    assert waiting.index(str(older.id)) < waiting.index(str(newer.id))
    assert 'href="tel:13911112222"' in waiting and "Community health centre doctor" in waiting
    assert "远方" not in html and "chc_doctor" not in waiting

    response = await client.post(
        f"/admin/referrals/{older.id}/handled", data={"note": "已电话联系，明天到社区医生处复诊"}
    )
    assert response.status_code == 303
    done = await ReferralFollowUp.get(contact_id=older.id)
    assert done.handled_by_id == coordinator.id and done.note.startswith("已电话联系")  # type: ignore[attr-defined,union-attr]
    html = (await client.get(response.headers["location"])).text
    waiting = html.split('id="referrals-open"', 1)[1].split("</ol>", 1)[0]
    handled = html.split('id="referrals-handled"', 1)[1].split("</ol>", 1)[0]
    assert str(older.id) not in waiting and str(older.id) in handled
    assert "已电话联系" in handled and coordinator.display_name in handled
    # Audited: who and which contact, never the note.
    event = await AuditEvent.get(action="referral.handled")
    assert event.record_id == str(older.id) and event.actor_id == coordinator.id  # type: ignore[attr-defined]
    assert "电话" not in str(event.detail)
    # A second click changes nothing.
    await client.post(f"/admin/referrals/{older.id}/handled", data={"note": "again"})
    assert await AuditEvent.filter(action="referral.handled").count() == 1
    # Another community's referral is not the coordinator's to handle.
    other = await Contact.get(referral_reason="别处")
    assert (await client.post(f"/admin/referrals/{other.id}/handled")).status_code == 404


async def test_a_volunteer_cannot_open_the_worklist(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await factories.community()
    committee = await factories.committee(community)
    volunteer = await factories.user(Role.VOLUNTEER, community=community, committee=committee)
    await factories.sign_in(client, volunteer, settings)
    assert (await client.get("/admin/referrals")).status_code == 403
