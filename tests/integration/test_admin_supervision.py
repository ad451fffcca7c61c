"""Supervision and training from the staff pages: every save is an engine write (version,
mutation log, audit), a refused field shows its message on the form, a void keeps the record,
peer leaders not supervised in 30 days are flagged, and a coordinator sees and writes only their
own community's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from server.settings import Settings
from sync import engine
from sync.models import Community, Conflict, Mutation, Role, Supervision, Training, User
from tests import factories

ZONE = ZoneInfo(Settings().timezone)


@dataclass
class World:
    community: Community
    coordinator: User
    leaders: list[User]
    other_leader: User
    other_coordinator: User


async def world(client: httpx.AsyncClient, settings: Settings) -> World:
    community = await factories.community()
    other = await factories.community()
    w = World(
        community=community,
        coordinator=await factories.user(Role.COORDINATOR, community=community),
        leaders=[
            await factories.user(Role.PEER_LEADER, community=community, display_name=name)
            for name in ("王秀英", "李建国")
        ],
        other_leader=await factories.user(Role.PEER_LEADER, community=other),
        other_coordinator=await factories.user(Role.COORDINATOR, community=other),
    )
    await factories.sign_in(client, w.coordinator, settings)
    return w


def local(at: datetime) -> str:
    """``at`` as the form's ``datetime-local`` input holds it (the program's time zone)."""
    return at.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def supervision_form(leader: User, **kw: str) -> dict[str, object]:
    return {
        "peer_leader_id": str(leader.id),
        "occurred_at": local(datetime.now(UTC) - timedelta(days=2)),
        "mode": "phone_call",
        "topics": ["referrals", "self_care"],
        "topics_other": "Blood sugar logs",
        "concerns": "Tired after many home visits",
        "follow_up": "Meet again in two weeks",
        **kw,
    }


async def test_a_supervision_is_recorded_through_the_engine(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    response = await client.post("/admin/supervision", data=supervision_form(w.leaders[0]))
    assert response.status_code == 303
    s = await Supervision.get(peer_leader_id=w.leaders[0].id)
    assert (s.mode, s.topics, s.concerns, s.follow_up) == (
        "phone_call",
        ["referrals", "self_care", "blood_sugar_logs"],
        "Tired after many home visits",
        "Meet again in two weeks",
    )
    assert s.version == 1 and s.seq > 0
    assert s.supervisor_id == w.coordinator.id and s.community_id == w.community.id  # type: ignore[attr-defined]
    # The mutation log is the version history and the audit record of the write.
    assert await Mutation.filter(record_id=s.id, user_id=w.coordinator.id).exists()
    page = (await client.get("/admin/supervision", headers={"accept-language": "en"})).text
    assert "Tired after many home visits" in page and "Phone call" in page


async def test_a_refused_field_shows_its_message_on_the_form(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    future = local(datetime.now(UTC) + timedelta(days=3))
    response = await client.post(
        "/admin/supervision",
        data=supervision_form(w.leaders[0], occurred_at=future),
        headers={"accept-language": "en"},
    )
    assert response.status_code == 422
    assert 'class="errors"' in response.text and "future" in response.text
    assert not await Supervision.exists()
    # Another community's peer leader is refused on the field too, in Chinese when asked.
    response = await client.post(
        "/admin/supervision",
        data=supervision_form(w.other_leader),
        headers={"accept-language": "zh-CN"},
    )
    assert response.status_code == 422 and not await Supervision.exists()


async def test_an_edit_writes_a_new_version_and_a_void_keeps_the_record(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    await client.post("/admin/supervision", data=supervision_form(w.leaders[0]))
    s = await Supervision.get()
    form = supervision_form(w.leaders[0], occurred_at=local(s.occurred_at))
    form.update(follow_up="Call next week", version="1")
    response = await client.post(f"/admin/supervision/{s.id}", data=form)
    assert response.status_code == 303
    await s.refresh_from_db()
    assert (s.follow_up, s.version, s.concerns) == (
        "Call next week",
        2,
        "Tired after many home visits",
    )
    refused = await client.post(f"/admin/supervision/{s.id}/void", data={"version": "2"})
    assert refused.status_code == 422
    response = await client.post(
        f"/admin/supervision/{s.id}/void", data={"version": "2", "void_reason": "wrong person"}
    )
    assert response.status_code == 303
    await s.refresh_from_db()
    assert (s.voided, s.void_reason, s.version) == (True, "wrong person", 3)
    assert str(s.id) not in (await client.get("/admin/supervision")).text
    assert str(s.id) in (await client.get("/admin/supervision?voided=1")).text


async def test_peer_leaders_not_supervised_in_30_days_are_flagged(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    recent, stale = w.leaders
    await client.post("/admin/supervision", data=supervision_form(recent))
    old = local(datetime.now(UTC) - timedelta(days=31))
    await client.post("/admin/supervision", data=supervision_form(stale, occurred_at=old))
    assert await Supervision.all().count() == 2
    page = (await client.get("/admin/supervision", headers={"accept-language": "en"})).text
    rows = {
        leader.id: page.split(f'data-leader="{leader.id}"', 1)[1].split("</tr>", 1)[0]
        for leader in w.leaders
    }
    assert "Not supervised in the last 30 days" not in rows[recent.id]
    assert "Not supervised in the last 30 days" in rows[stale.id]
    assert str(w.other_leader.id) not in page
    chinese = (await client.get("/admin/supervision", headers={"accept-language": "zh-CN"})).text
    assert "近 30 天未接受督导" in chinese and "督导记录" in chinese


async def test_another_community_can_neither_see_nor_write_a_supervision(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    await client.post("/admin/supervision", data=supervision_form(w.leaders[0]))
    s = await Supervision.get()
    await factories.sign_in(client, w.other_coordinator, settings)
    assert "Tired after many" not in (await client.get("/admin/supervision")).text
    assert (await client.get(f"/admin/supervision/{s.id}")).status_code == 404
    form = supervision_form(w.leaders[0], follow_up="hijacked", version="1")
    assert (await client.post(f"/admin/supervision/{s.id}", data=form)).status_code == 404
    void = {"version": "1", "void_reason": "x"}
    assert (await client.post(f"/admin/supervision/{s.id}/void", data=void)).status_code == 404
    await s.refresh_from_db()
    assert (s.follow_up, s.voided, s.version) == ("Meet again in two weeks", False, 1)


async def test_a_training_session_records_who_was_present(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    form = {
        "title": "Listening skills",
        "held_on": "2026-10-12",
        "hours": "2.5",
        "note": "At the CHC",
        "attendee_ids": [str(w.leaders[0].id), str(w.leaders[1].id)],
    }
    new = (await client.get("/admin/training/new")).text
    assert all(str(leader.id) in new for leader in w.leaders)
    assert str(w.other_leader.id) not in new
    assert (await client.post("/admin/training", data=form)).status_code == 303
    t = await Training.get()
    assert (t.title, str(t.held_on), t.hours, t.version) == (
        "Listening skills",
        "2026-10-12",
        2.5,
        1,
    )
    assert set(t.attendee_ids) == {str(u.id) for u in w.leaders}
    assert t.community_id == w.community.id and t.trainer_id == w.coordinator.id  # type: ignore[attr-defined]
    assert await Mutation.filter(record_id=t.id).exists()
    page = (await client.get("/admin/training")).text
    assert "Listening skills" in page and "王秀英" in page and "李建国" in page

    # Untick one: a new version; a peer leader of another community is refused on the field.
    edit = {**form, "attendee_ids": [str(w.leaders[0].id)], "version": "1"}
    assert (await client.post(f"/admin/training/{t.id}", data=edit)).status_code == 303
    await t.refresh_from_db()
    assert (t.attendee_ids, t.version) == ([str(w.leaders[0].id)], 2)
    bad = {**edit, "attendee_ids": [str(w.other_leader.id)], "version": "2"}
    response = await client.post(f"/admin/training/{t.id}", data=bad)
    assert response.status_code == 422 and 'class="errors"' in response.text
    too_long = {**edit, "hours": "30", "version": "2"}
    response = await client.post(f"/admin/training/{t.id}", data=too_long)
    assert response.status_code == 422
    await t.refresh_from_db()
    assert (t.attendee_ids, t.hours, t.version) == ([str(w.leaders[0].id)], 2.5, 2)

    void = {"version": "2", "void_reason": "entered twice"}
    assert (await client.post(f"/admin/training/{t.id}/void", data=void)).status_code == 303
    await t.refresh_from_db()
    assert (t.voided, t.void_reason, t.version) == (True, "entered twice", 3)
    assert "Listening skills" not in (await client.get("/admin/training")).text


async def test_another_community_can_neither_see_nor_write_a_training_session(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    form = {"title": "Listening skills", "held_on": "2026-10-12", "attendee_ids": []}
    await client.post("/admin/training", data=form)
    t = await Training.get()
    await factories.sign_in(client, w.other_coordinator, settings)
    assert "Listening skills" not in (await client.get("/admin/training")).text
    assert (await client.get(f"/admin/training/{t.id}")).status_code == 404
    edit = {**form, "title": "hijacked", "version": "1"}
    assert (await client.post(f"/admin/training/{t.id}", data=edit)).status_code == 404
    await t.refresh_from_db()
    assert (t.title, t.version) == ("Listening skills", 1)


@pytest.mark.parametrize("role", [Role.PEER_LEADER, Role.VOLUNTEER])
async def test_peer_leaders_and_volunteers_can_neither_open_nor_write_them(
    client: httpx.AsyncClient, settings: Settings, role: Role
) -> None:
    w = await world(client, settings)
    await factories.sign_in(client, await factories.user(role, community=w.community), settings)
    for path in ("/admin/supervision", "/admin/training", "/admin/ratings"):
        assert (await client.get(path)).status_code == 403
    posts = {
        "/admin/supervision": supervision_form(w.leaders[0]),
        "/admin/training": {"title": "x", "held_on": "2026-10-12"},
    }
    for path, data in posts.items():
        assert (await client.post(path, data=data)).status_code == 403
    assert not await Supervision.exists() and not await Training.exists()


async def test_the_staff_navigation_links_to_the_three_pages(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await world(client, settings)
    html = (await client.get("/admin/dashboard")).text
    for path in ("/admin/supervision", "/admin/training", "/admin/ratings"):
        assert f'href="{path}"' in html


async def test_a_stale_edit_merges_or_opens_a_conflict_like_a_phone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    await client.post("/admin/supervision", data=supervision_form(w.leaders[0]))
    s = await Supervision.get()
    opened = supervision_form(w.leaders[0], occurred_at=local(s.occurred_at), version="1")
    # Meanwhile another coordinator of the community changes the follow-up.
    colleague = await factories.user(Role.COORDINATOR, community=w.community)
    await factories.sign_in(client, colleague, settings)
    moved = {**opened, "follow_up": "Visit together on Friday"}
    assert (await client.post(f"/admin/supervision/{s.id}", data=moved)).status_code == 303
    # The first form, still at version 1: another field merges…
    await factories.sign_in(client, w.coordinator, settings)
    merged = {**opened, "concerns": "Sleeping badly"}
    assert (await client.post(f"/admin/supervision/{s.id}", data=merged)).status_code == 303
    await s.refresh_from_db()
    assert (s.concerns, s.follow_up, s.version) == ("Sleeping badly", "Visit together on Friday", 3)
    # …the same field opens a conflict, and the page goes to it.
    clash = {**opened, "follow_up": "Phone on Monday"}
    response = await client.post(f"/admin/supervision/{s.id}", data=clash)
    assert response.status_code == 303 and "/admin/conflicts/" in response.headers["location"]
    assert await Conflict.filter(record_id=s.id, entity="supervision").exists()
    await s.refresh_from_db()
    assert s.follow_up == "Visit together on Friday"


async def test_a_revoked_web_device_is_refused_with_403_not_a_server_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    await factories.device(
        w.coordinator, id=engine.server_device_id(w.coordinator.id), revoked_at=datetime.now(UTC)
    )
    response = await client.post("/admin/supervision", data=supervision_form(w.leaders[0]))
    assert response.status_code == 403 and not await Supervision.exists()
    row = {f"{w.leaders[0].id}.being_there": "4", "period": "2026-Q3"}
    assert (await client.post("/admin/ratings", data=row)).status_code == 403
