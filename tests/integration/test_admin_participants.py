"""Participants and places from the staff pages: enrolment needs consent, edits and
reassignments go through the engine (versions, conflicts, resync), groups reach the phones."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx

from server.settings import Settings
from sync.models import AuditEvent, Conflict, Group, Mutation, Participant, Role, User
from tests import factories

FORM = {
    "code": "SH-0100",
    "full_name": "陈美玲",
    "sex": "female",
    "birth_year": "1958",
    "phone": "13912345678",
    "address": "7号楼 301",
    "enrolled_on": "2026-06-01",
    "status": "active",
    "conditions": "t2d, hypertension",
    "hba1c_baseline": "8.8",
    "hba1c_baseline_on": "2026-06-01",
}


async def world(client: httpx.AsyncClient, settings: Settings) -> dict[str, object]:
    community = await factories.community()
    committee = await factories.committee(community)
    leaders = [await factories.user(Role.PEER_LEADER, community=community) for _ in range(2)]
    coordinator = await factories.user(Role.COORDINATOR, community=community)
    await factories.sign_in(client, coordinator, settings)
    return {
        "community": community,
        "committee": committee,
        "leaders": leaders,
        "coordinator": coordinator,
    }


async def test_enrolment_needs_a_consent_date(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    form = {
        **FORM,
        "committee_id": str(w["committee"].id),
        "peer_leader_id": str(w["leaders"][0].id),
    }  # type: ignore[attr-defined]
    refused = await client.post("/admin/participants", data=form)
    assert refused.status_code == 422 and not await Participant.exists(code="SH-0100")
    response = await client.post("/admin/participants", data={**form, "consent_on": "2026-05-30"})
    assert response.status_code == 303
    p = await Participant.get(code="SH-0100")
    assert (p.full_name, p.conditions, p.hba1c_baseline, p.birth_year) == (
        "陈美玲",
        ["t2d", "hypertension"],
        8.8,
        1958,
    )
    assert p.version == 1 and p.seq > 0
    assert await Mutation.filter(record_id=p.id, user_id=w["coordinator"].id).exists()  # type: ignore[attr-defined]
    assert "SH-0100" in (await client.get("/admin/participants?q=陈美")).text


async def test_reassigning_a_peer_leader_moves_the_participant_between_phones(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    old, new = w["leaders"]  # type: ignore[misc]
    p = await factories.participant(w["committee"], old)  # type: ignore[arg-type]
    tokens = {u.id: u.scope_token for u in await User.filter(id__in=[old.id, new.id])}
    page = (await client.get(f"/admin/participants/{p.id}")).text
    assert p.code in page
    form = {name: "" for name in FORM}
    form.update(
        code=p.code,
        full_name=p.full_name,
        phone=p.phone or "",
        committee_id=str(p.committee_id),  # type: ignore[attr-defined]
        enrolled_on="2026-05-01",
        consent_on="2026-05-01",
        status="active",
        peer_leader_id=str(new.id),
        version=str(p.version),
    )
    response = await client.post(f"/admin/participants/{p.id}", data=form)
    assert response.status_code == 303, response.text
    after = await Participant.get(id=p.id)
    assert after.peer_leader_id == new.id and after.version == p.version + 1  # type: ignore[attr-defined]
    # Only the changed field was sent: nothing else in the mutation.
    log = await Mutation.filter(record_id=p.id).order_by("-id").first()
    assert log is not None and set(log.changes) >= {"peer_leader_id"}
    # The old leader's phone must drop the participant (a resync); the new leader's next pull
    # simply carries it, since its change-sequence number is new.
    bumped = {u.id: u.scope_token for u in await User.filter(id__in=[old.id, new.id])}
    assert bumped[old.id] > tokens[old.id]
    from sync import engine

    page_ = await engine.pull(await User.get(id=new.id), None)
    assert any(c.id == str(p.id) for c in page_.changes)  # type: ignore[union-attr]


async def test_a_stale_edit_opens_a_conflict_instead_of_overwriting(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    p = await factories.participant(w["committee"], w["leaders"][0], phone="1")  # type: ignore[arg-type, index]
    from sync import engine

    await engine.write(w["leaders"][0], "participant", p.id, {"phone": "2"}, base_version=1)  # type: ignore[index]
    form = {name: "" for name in FORM}
    form.update(
        code=p.code,
        full_name=p.full_name,
        phone="3",
        committee_id=str(p.committee_id),  # type: ignore[attr-defined]
        peer_leader_id=str(w["leaders"][0].id),  # type: ignore[index]
        enrolled_on="2026-05-01",
        consent_on="2026-05-01",
        status="active",
        version="1",  # the form was opened before the leader's edit
    )
    response = await client.post(f"/admin/participants/{p.id}", data=form)
    assert response.status_code == 303 and "/admin/conflicts/" in response.headers["location"]
    conflict = await Conflict.get(record_id=p.id)
    assert conflict.fields_json["phone"] == {"base": "1", "server": "2", "device": "3"}
    assert (await Participant.get(id=p.id)).phone == "2"


async def test_a_group_leader_change_reaches_phones_and_is_audited(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    old, new = w["leaders"]  # type: ignore[misc]
    community = w["community"]
    response = await client.post(
        "/admin/places/groups",
        data={
            "community_id": str(community.id),
            "name": "Morning walkers",
            "leader_id": str(old.id),
        },  # type: ignore[attr-defined]
    )
    assert response.status_code == 303
    group = await Group.get(name="Morning walkers")
    assert group.leader_id == old.id and group.version == 1 and group.seq > 0  # type: ignore[attr-defined]
    before = {u.id: u.scope_token for u in await User.filter(id__in=[old.id, new.id])}
    await client.post(
        f"/admin/places/groups/{group.id}",
        data={"name": "Morning walkers", "leader_id": str(new.id), "co_leader_id": ""},
    )
    after = await Group.get(id=group.id)
    assert after.leader_id == new.id and after.version == 2 and after.seq > group.seq  # type: ignore[attr-defined]
    tokens = {u.id: u.scope_token for u in await User.filter(id__in=[old.id, new.id])}
    assert tokens[old.id] > before[old.id] and tokens[new.id] > before[new.id]
    assert await AuditEvent.filter(action="group.update", record_id=str(group.id)).exists()


async def test_a_group_led_by_someone_outside_the_community_is_refused_with_the_reason(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    outsider = await factories.user(Role.PEER_LEADER, community=await factories.community())
    client.cookies.set("lang", "zh-CN")
    response = await client.post(
        "/admin/places/groups",
        data={
            "community_id": str(w["community"].id),  # type: ignore[attr-defined]
            "name": "Evening walkers",
            "leader_id": str(outsider.id),
        },
    )
    # Back to the page with the reason, not a "not for your role" page: the role is right.
    assert response.status_code == 303 and "error=leaders" in response.headers["location"]
    page_ = await client.get(response.headers["location"])
    assert "小组的组长必须是本社区的同伴组长" in page_.text
    assert not await Group.filter(name="Evening walkers").exists()


async def test_a_coordinator_manages_only_their_own_places(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await world(client, settings)
    elsewhere = await factories.community()
    response = await client.post(
        "/admin/places/committees",
        data={"community_id": str(elsewhere.id), "name": "Not mine", "code": "NM-1"},
    )
    assert response.status_code == 404
    assert (
        await client.post("/admin/places/communities", data={"name": "X", "code": "X"})
    ).status_code == 403


async def test_the_enrolment_form_reports_every_problem_at_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    await factories.participant(w["committee"], code="TAKEN-1")  # type: ignore[arg-type]
    form = {
        **FORM,
        "code": "TAKEN-1",
        "full_name": "",
        "committee_id": "",
        "consent_on": "",
        "birth_year": "1800",
    }
    client.cookies.set("lang", "en")
    response = await client.post("/admin/participants", data=form)
    assert response.status_code == 422
    html = response.text
    for problem in (
        "Another participant already has this code.",
        "Enrolment needs the date consent was recorded.",
        "must be between 1900 and 2100",
    ):
        assert problem in html, problem
    # The name and the committee are reported in the same answer, not after a second try.
    assert html.count('class="errors"') >= 5
    assert not await Participant.exists(full_name="")


async def test_bulk_reassign_moves_the_ticked_or_all_filtered_participants(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    w = await world(client, settings)
    old, new = w["leaders"]  # type: ignore[misc]
    community = w["community"]
    group = await factories.group(community, leader=new)  # type: ignore[arg-type]
    people = [await factories.participant(w["committee"], old) for _ in range(4)]  # type: ignore[arg-type]
    elsewhere = await factories.participant(await factories.committee(await factories.community()))
    listing = (await client.get(f"/admin/participants?peer_leader={old.id}")).text
    assert all(p.code in listing for p in people) and 'id="reassign"' in listing
    # Two ticked (and one outside the coordinator's community, which is not touched).
    response = await client.post(
        "/admin/participants/reassign",
        data={
            "which": "chosen",
            "ids": [str(people[0].id), str(people[1].id), str(elsewhere.id)],
            "group_id": str(group.id),
            "peer_leader_id": "keep",
        },
    )
    assert response.status_code == 303 and "reassigned=2" in response.headers["location"]
    moved = {p.id: p for p in await Participant.filter(id__in=[p.id for p in people])}
    assert moved[people[0].id].group_id == group.id  # type: ignore[attr-defined]
    assert moved[people[0].id].peer_leader_id == old.id  # type: ignore[attr-defined]
    assert moved[people[2].id].group_id is None  # type: ignore[attr-defined]
    assert (await Participant.get(id=elsewhere.id)).version == elsewhere.version
    # All the filter shows: every participant of the old leader goes to the new one.
    response = await client.post(
        "/admin/participants/reassign",
        data={
            "which": "all",
            "peer_leader": str(old.id),
            "group_id": "keep",
            "peer_leader_id": str(new.id),
        },
    )
    assert "reassigned=4" in response.headers["location"]
    assert not await Participant.filter(peer_leader_id=old.id).exists()
    # Through the engine: versioned, logged, and the page says how many.
    assert all(p.version >= 2 for p in await Participant.filter(id__in=[p.id for p in people]))
    page = (await client.get(response.headers["location"])).text
    assert 'id="reassign-result"' in page


async def test_the_enrolment_forms_limits_are_the_engines_rules(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """maxlength, min and max on the staff form come from the validation catalogue
    (``sync.entities.catalogue``, the one the phone's js/rules.js is made from): every text and
    number field the form shows carries its rule's numbers and no others."""
    from sync import entities

    await world(client, settings)
    page = await client.get("/admin/participants/new")
    assert page.status_code == 200
    parser = _FormFields()
    parser.feed(page.text)
    rules = entities.catalogue()["fields"]["participant"]
    limits = {"maxlength": "max", "min": "low", "max": "high"}
    checked = 0
    for name, attrs in parser.found.items():
        rule = rules[name]
        for attribute, key in limits.items():
            expected = str(rule[key]) if key in rule else None
            assert attrs.get(attribute) == expected, (name, attribute)
            checked += expected is not None
    # The form shows the text and number fields with limits: name, code, phone, ranges, notes.
    assert {"code", "full_name", "birth_year", "hba1c", "notes"} <= set(parser.found)
    assert checked >= 12


class _FormFields(HTMLParser):
    """The form's own inputs and text areas (id ``f-…``), by name, with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag in ("input", "textarea") and (named.get("id") or "").startswith("f-"):
            self.found[str(named["name"])] = named
