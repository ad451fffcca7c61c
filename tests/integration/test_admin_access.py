"""Who may open which staff page, and what a page shows each role (SPEC 1).

One table, roles × pages: the expected status for every role, plus the promise that a
volunteer's roster never carries a clinical value or a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
import pytest
from litestar import Litestar

from server.settings import Settings
from sync.models import AuditEvent, Committee, Community, Participant, Role, User
from tests import factories

ROLES = ("anonymous", "volunteer", "peer_leader", "coordinator", "admin")

# page → expected status per role, in ROLES order. 401 = sign in, 403 = not for this role.
PAGES: dict[str, tuple[int, ...]] = {
    "/admin": (303, 303, 403, 200, 200),
    "/admin/roster": (303, 200, 403, 200, 200),
    "/admin/dashboard": (303, 403, 403, 200, 200),
    "/admin/conflicts": (303, 403, 403, 200, 200),
    "/admin/participants": (303, 403, 403, 200, 200),
    "/admin/participants/import": (303, 403, 403, 200, 200),
    "/admin/places": (303, 403, 403, 200, 200),
    "/admin/exports": (303, 403, 403, 200, 200),
    "/admin/exports/contacts.csv": (303, 403, 403, 200, 200),
    "/admin/audit": (303, 403, 403, 200, 200),
    "/admin/supervision": (303, 403, 403, 200, 200),
    "/admin/supervision/new": (303, 403, 403, 200, 200),
    "/admin/training": (303, 403, 403, 200, 200),
    "/admin/training/new": (303, 403, 403, 200, 200),
    "/admin/ratings": (303, 403, 403, 200, 200),
    "/admin/instruments": (303, 403, 403, 200, 200),
    "/admin/participants/{mine}": (303, 403, 403, 200, 200),
    "/admin/participants/{theirs}": (303, 403, 403, 404, 200),
    "/admin/roster?committee={other_committee}": (303, 200, 403, 404, 200),
}

HBA1C = 9.37
NOTE = "confidential-note-text"


@dataclass
class World:
    community: Community
    other_community: Community
    committee: Committee
    other_committee: Committee
    users: dict[str, User]
    mine: Participant
    theirs: Participant


async def make_world() -> World:
    community = await factories.community(name="Home community")
    other = await factories.community(name="Other community")
    committee = await factories.committee(community, name="Willow Lane")
    other_committee = await factories.committee(other, name="Far Away Lane")
    leader = await factories.user(Role.PEER_LEADER, community=community)
    users = {
        "volunteer": await factories.user(Role.VOLUNTEER, community=community, committee=committee),
        "peer_leader": leader,
        "coordinator": await factories.user(Role.COORDINATOR, community=community),
        "admin": await factories.user(Role.ADMIN),
    }
    mine = await factories.participant(
        committee,
        leader,
        full_name="Roster Person",
        address="Building 3, unit 402",
        hba1c_baseline=HBA1C,
        hba1c=HBA1C,
        notes=NOTE,
        last_contact_at=datetime(2026, 11, 1, 2, tzinfo=UTC),
        next_follow_up_on=date(2026, 11, 15),
    )
    theirs = await factories.participant(other_committee, full_name="Elsewhere Person")
    return World(community, other, committee, other_committee, users, mine, theirs)


async def as_role(client: httpx.AsyncClient, world: World, role: str, settings: Settings) -> None:
    if role != "anonymous":
        await factories.sign_in(client, world.users[role], settings)


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_exactly_its_pages(
    client: httpx.AsyncClient, settings: Settings, role: str
) -> None:
    world = await make_world()
    await as_role(client, world, role, settings)
    got = {}
    ids = {
        "mine": world.mine.id,
        "theirs": world.theirs.id,
        "other_committee": world.other_committee.id,
    }
    for path in PAGES:
        response = await client.get(path.format(**ids), follow_redirects=False)
        got[path] = response.status_code
        if role == "anonymous":
            assert response.headers["location"].startswith("/signin"), path
    expected = {path: codes[ROLES.index(role)] for path, codes in PAGES.items()}
    assert got == expected


async def test_a_volunteer_roster_shows_roster_fields_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await make_world()
    await as_role(client, world, "volunteer", settings)
    html = (await client.get("/admin/roster")).text
    assert "Roster Person" in html and "Building 3, unit 402" in html
    assert world.mine.phone in html  # type: ignore[operator]
    assert str(HBA1C) not in html and NOTE not in html
    # Their own committee only, whatever they ask for.
    html = (await client.get(f"/admin/roster?committee={world.other_committee.id}")).text
    assert "Elsewhere Person" not in html and "Roster Person" in html


async def test_staff_see_every_field_of_a_participant(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await make_world()
    await as_role(client, world, "coordinator", settings)
    html = (await client.get(f"/admin/participants/{world.mine.id}")).text
    assert str(HBA1C) in html and NOTE in html
    # ...but the roster is the roster, whoever reads it.
    roster = (await client.get(f"/admin/roster?committee={world.committee.id}")).text
    assert str(HBA1C) not in roster and NOTE not in roster


async def test_a_coordinator_sees_only_their_community(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await make_world()
    await as_role(client, world, "coordinator", settings)
    assert "Roster Person" in (await client.get("/admin/roster")).text
    response = await client.get(f"/admin/roster?committee={world.other_committee.id}")
    assert response.status_code == 404 and "Elsewhere Person" not in response.text
    # Asking the dashboard or an export for another community still gives their own.
    csv_text = (
        await client.get(f"/admin/exports/participants.csv?community={world.other_community.id}")
    ).text
    assert "Roster Person" in csv_text and "Elsewhere Person" not in csv_text
    html = (await client.get(f"/admin/participants?community={world.other_community.id}")).text
    assert "Elsewhere Person" not in html


async def test_an_admin_roster_can_show_any_committee(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await make_world()
    await as_role(client, world, "admin", settings)
    html = (await client.get(f"/admin/roster?committee={world.other_committee.id}")).text
    assert "Elsewhere Person" in html


async def test_the_conflict_count_is_in_the_navigation(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from sync.models import Conflict

    world = await make_world()
    for _ in range(3):
        await Conflict.create(
            entity="participant",
            record_id=world.mine.id,
            base_version=1,
            server_version=2,
            fields_json={"phone": {"base": "1", "server": "2", "device": "3"}},
            user=world.users["peer_leader"],
            community=world.community,
        )
    await as_role(client, world, "coordinator", settings)
    html = (await client.get("/admin")).text
    assert '<span class="badge"' in html and ">3</span>" in html


async def test_the_audit_log_has_no_way_to_change_it(app: Litestar, db: str) -> None:
    unsafe = {"POST", "PUT", "PATCH", "DELETE"}
    for route in app.routes:
        if route.path.startswith("/admin/audit"):
            assert not (set(route.methods) & unsafe), route.path  # type: ignore[attr-defined]
    assert await AuditEvent.all().count() == 0


async def test_every_staff_page_speaks_both_languages(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await make_world()
    await as_role(client, world, "admin", settings)
    pages = [
        p
        for p, codes in PAGES.items()
        if codes[-1] == 200 and not p.endswith(".csv") and "{" not in p
    ]
    for lang, expected in (("zh-CN", "审计日志"), ("en", "Audit log")):
        client.cookies.set("lang", lang)
        for path in pages:
            html = (await client.get(path)).text
            assert f'<html lang="{lang}"' in html, (path, lang)
            assert expected in html, (path, lang)  # the navigation, translated
    client.cookies.set("lang", "zh-CN")
    html = (await client.get("/admin/dashboard")).text
    assert "每名参与者每月联系次数" in html and "Contacts per participant per month" not in html
