"""`peerlog demo`: a synthetic program shaped like the Shanghai one, the same for the same seed,
and written so that the sync engine's pull and the rosters find it as if it had been synced."""

from __future__ import annotations

import hashlib
import re
import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections
from tortoise.models import Model

from server import demo
from server.settings import Settings
from sync import db as sync_db
from sync import engine, models, outcomes
from sync.entities.group_meeting import MEETING_CONTACT_NS
from sync.entities.implementation_rating import RATED
from sync.instruments import BUILT_IN
from sync.models import (
    Assessment,
    Committee,
    Community,
    Contact,
    ContactMode,
    Group,
    GroupActivity,
    GroupMeeting,
    ImplementationRating,
    KeyFunction,
    Measurement,
    Participant,
    Referral,
    Role,
    Supervision,
    Training,
    User,
)
from sync.wire import PullResponse
from tests.conftest import empty_database

# Every model with a change sequence number: what a pull pages through.
SYNCED = [
    m
    for m in vars(models).values()
    if isinstance(m, type)
    and issubclass(m, Model)
    and not m._meta.abstract
    and "seq" in m._meta.fields_map
]

SEED = 7
TODAY = date(2026, 11, 23)
# Most promises are checked on a quarter of the program (3 communities, ~330 participants) on
# every backend, which keeps the suite quick; the full size is checked once, on SQLite.
SCALE = 0.25
PROGRAM_TABLES = (
    "community",
    "committee",
    "users",
    "peer_group",
    "participant",
    "group_meeting",
    "contact",
    "change_counter",
)


@dataclass
class Demo:
    program: demo.Program
    output: list[str]


async def _run(settings: Settings, seed: int = SEED, scale: float = SCALE) -> Demo:
    output: list[str] = []
    program = await demo.run(settings, seed=seed, today=TODAY, scale=scale, echo=output.append)
    assert program is not None
    return Demo(program, output)


@pytest.fixture
async def filled(db: str, settings: Settings) -> Demo:
    return await _run(settings)


async def _digest() -> str:
    """A hash of every row of the program's tables, in primary-key order."""
    conn = connections.get("default")
    digest = hashlib.sha256()
    for table in PROGRAM_TABLES:
        rows = await conn.execute_query_dict(f"SELECT * FROM {table}")
        for row in sorted(rows, key=lambda r: str(r.get("id", r.get("name")))):
            digest.update(repr(sorted(row.items())).encode())
    return digest.hexdigest()


# --- shape -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_full_demo_has_the_size_of_the_shanghai_program(
    db: str, settings: Settings
) -> None:
    await _run(settings, scale=1.0)
    assert await Community.all().count() == 12
    assert 55 <= await Committee.all().count() <= 65
    assert 110 <= await User.filter(role=Role.PEER_LEADER).count() <= 130
    assert 1200 <= await Participant.all().count() <= 1400
    sizes = Counter(p.group_id for p in await Participant.all())  # type: ignore[attr-defined]
    assert len(sizes) == await Group.all().count()
    assert all(8 <= n <= 15 for n in sizes.values())
    # Six months of contacts, ending before today (nothing in the future).
    first = await Contact.all().order_by("occurred_at").first()
    last = await Contact.all().order_by("-occurred_at").first()
    assert first is not None and last is not None
    assert last.occurred_at < datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    assert timedelta(days=170) <= last.occurred_at - first.occurred_at <= timedelta(days=190)
    assert await Contact.all().count() > 10 * await Participant.all().count()


async def test_the_demo_users_see_the_same_people(filled: Demo) -> None:
    users = {u.username: u for u in await User.filter(username__in=demo.DEMO_USERS)}
    assert {name: users[name].role for name in demo.DEMO_USERS} == {
        "admin": Role.ADMIN,
        "coordinator": Role.COORDINATOR,
        "peer": Role.PEER_LEADER,
        "volunteer": Role.VOLUNTEER,
    }
    first_community = await Community.all().order_by("code").first()
    assert first_community is not None
    coordinator_community = users["coordinator"].community_id  # type: ignore[attr-defined]
    assert coordinator_community == filled.program.communities[0].id
    peers_people = await Participant.filter(peer_leader_id=users["peer"].id)
    assert len(peers_people) >= 8
    assert await Group.filter(leader_id=users["peer"].id).exists()
    volunteer_committee = users["volunteer"].committee_id  # type: ignore[attr-defined]
    assert await Participant.filter(committee_id=volunteer_committee).count() >= 8
    assert {p.community_id for p in peers_people} == {coordinator_community}  # type: ignore[attr-defined]
    # An urgent referral this week, for the coordinator's urgent list and the peer's Today screen.
    week_ago = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=8)
    assert await Contact.filter(
        peer_leader_id=users["peer"].id, referral=Referral.URGENT, occurred_at__gte=week_ago
    ).exists()


async def test_it_prints_an_invite_link_for_each_demo_user_and_no_health_data(
    filled: Demo,
) -> None:
    links = [line for line in filled.output if "/invite/" in line]
    assert len(links) == 4
    for name in demo.DEMO_USERS:
        assert any(
            re.search(rf"\b{name}\b.*http://localhost:8000/invite/\w{{4}}-\w{{4}}$", line)
            for line in links
        )
    text = "\n".join(filled.output)
    for p in await Participant.all().limit(50):
        assert p.full_name not in text and (p.phone or "-") not in text


# --- determinism -----------------------------------------------------------------------------------


async def test_the_same_seed_gives_identical_rows_and_another_seed_does_not(
    db: str, settings: Settings, tmp_path: Path
) -> None:
    await _run(settings)
    first = await _digest()
    await sync_db.close()
    async with empty_database(db, tmp_path) as second_url:
        await sync_db.migrate(second_url)
        await sync_db.init(second_url)
        try:
            await _run(Settings(data_dir=tmp_path / "d2", database_url=second_url))
            assert await _digest() == first
            other = demo.generate(SEED + 1, TODAY, 0.1)
            same = demo.generate(SEED, TODAY, 0.1)
            assert [p.id for p in other.participants] != [p.id for p in same.participants]
            assert [p.full_name for p in other.participants] != [
                p.full_name for p in same.participants
            ]
        finally:
            await sync_db.close()
    await sync_db.init(db)  # the `db` fixture closes what it opened


# --- what the sync engine and the rosters rely on --------------------------------------------------


async def test_every_synced_row_has_version_one_and_its_own_change_sequence_number(
    filled: Demo,
) -> None:
    seqs: list[int] = []
    # Every synced table, the rows the migrations seed (built-in instruments) included.
    for model in SYNCED:
        rows = await model.all().values("version", "seq")
        assert all(r["version"] == 1 for r in rows), model.__name__
        assert rows or model not in (Group, Participant, GroupMeeting, Contact), model.__name__
        seqs += [r["seq"] for r in rows]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    counter = await connections.get("default").execute_query_dict(
        "SELECT value FROM change_counter WHERE name = 'global'"
    )
    assert counter[0]["value"] == len(seqs)


async def test_each_participants_last_contact_and_next_follow_up_come_from_their_latest_contact(
    filled: Demo,
) -> None:
    latest: dict[Any, Contact] = {}
    for c in await Contact.filter(voided=False):
        pid = c.participant_id  # type: ignore[attr-defined]
        if pid not in latest or c.occurred_at > latest[pid].occurred_at:
            latest[pid] = c
    participants = await Participant.all()
    for p in participants:
        c = latest.get(p.id)
        assert p.last_contact_at == (c.occurred_at if c else None), p.code
        assert p.next_follow_up_on == (c.follow_up_on if c else None), p.code
    # Some active participants are overdue (follow-up passed, or 30 days without a contact),
    # most are not.
    active = [p for p in participants if p.status == "active"]
    cutoff = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=30)
    overdue = [
        p
        for p in active
        if p.last_contact_at is None
        or p.last_contact_at < cutoff
        or (p.next_follow_up_on is not None and p.next_follow_up_on < TODAY)
    ]
    assert 0.03 * len(active) <= len(overdue) <= 0.25 * len(active)


async def test_each_meeting_attendee_has_a_group_meeting_contact_with_a_derived_id(
    filled: Demo,
) -> None:
    by_meeting: defaultdict[Any, set[str]] = defaultdict(set)
    for c in await Contact.filter(meeting_id__not_isnull=True):
        assert c.mode == ContactMode.GROUP_MEETING
        assert c.id == uuid.uuid5(MEETING_CONTACT_NS, f"{c.meeting_id}:{c.participant_id}")  # type: ignore[attr-defined]
        by_meeting[c.meeting_id].add(str(c.participant_id))  # type: ignore[attr-defined]
    meetings = await GroupMeeting.all()
    assert meetings
    for m in meetings:
        assert by_meeting[m.id] == set(m.attendee_ids)
    assert not await Contact.filter(mode=ContactMode.GROUP_MEETING, meeting_id=None).exists()
    # Monthly: about six meetings per group over six months.
    per_group = Counter(m.group_id for m in meetings)  # type: ignore[attr-defined]
    assert all(5 <= n <= 6 for n in per_group.values())


# --- does it look like a real program? -------------------------------------------------------------


async def test_hba1c_improves_about_half_a_point_among_those_who_started_at_8_or_more(
    filled: Demo,
) -> None:
    people = await Participant.all()
    assert all(p.hba1c_baseline is not None for p in people)
    high = [p for p in people if p.hba1c_baseline >= 8]  # type: ignore[operator]
    assert 0.3 <= len(high) / len(people) <= 0.6
    changes = [p.hba1c - p.hba1c_baseline for p in high if p.hba1c is not None]  # type: ignore[operator]
    assert -0.8 <= statistics.mean(changes) <= -0.3
    assert 8.7 <= statistics.mean(p.hba1c_baseline for p in high) <= 9.5  # type: ignore[misc]
    # "Mostly improves a little": more people improve than get worse, and nobody by miracles.
    assert sum(c < 0 for c in changes) > sum(c > 0 for c in changes)
    assert all(abs(c) < 4 for c in changes)


async def test_contacts_look_like_the_program(filled: Demo) -> None:
    contacts = await Contact.all()
    individual = Counter(c.mode for c in contacts if c.mode != ContactMode.GROUP_MEETING)
    assert {m for m, _ in individual.most_common(2)} == {"phone_call", "wechat_group"}
    assert individual["home_visit"] > individual["clinic_accompaniment"] > 0
    assert set(individual) | {"group_meeting"} == {m.value for m in ContactMode}
    functions = {f.value for f in KeyFunction}
    assert all(
        c.functions and set(c.functions) <= functions and c.topics
        for c in contacts
        if c.meeting_id is None  # type: ignore[attr-defined]
    )
    referrals = Counter(c.referral for c in contacts)
    assert referrals["none"] > 0.85 * len(contacts)
    assert 0 < referrals["urgent"] < referrals["routine"]
    for c in contacts:
        if c.referral != Referral.NONE:
            assert c.referral_reason and c.referral_to in (
                "chc_doctor",
                "hospital",
                "community_resource",
            )
        assert c.meeting_id or (c.duration_min and 1 <= c.duration_min <= 240)  # type: ignore[attr-defined]
        if c.glucose_mmol is not None:
            assert 1 <= c.glucose_mmol <= 35
    assert sum(c.glucose_mmol is not None for c in contacts) > 0.1 * len(contacts)
    assert sum(c.follow_up_on is not None for c in contacts) > 0.5 * len(contacts)
    assert 0 < sum(c.voided for c in contacts) < 0.02 * len(contacts)
    assert all(c.void_reason for c in contacts if c.voided)


async def test_participants_look_like_people_in_shanghai(filled: Demo) -> None:
    people = await Participant.all()
    assert all("t2d" in p.conditions for p in people)
    assert sum("hypertension" in p.conditions for p in people) > 0.4 * len(people)
    assert all(re.fullmatch(r"1[358]\d{9}", p.phone or "") for p in people)
    assert len({p.phone for p in people}) == len(people)
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", p.full_name) for p in people)
    assert all(re.fullmatch(r"\S+路\d+弄\d+号\d0\d室", p.address or "") for p in people)
    statuses = Counter(p.status for p in people)
    assert statuses["active"] > 0.85 * len(people)
    assert {"paused", "moved", "withdrawn"} <= set(statuses)
    assert all(p.consent_on and p.enrolled_on and p.consent_on <= p.enrolled_on for p in people)


async def test_the_demo_fills_an_empty_database_only(filled: Demo, settings: Settings) -> None:
    output: list[str] = []
    assert await demo.run(settings, if_empty=True, today=TODAY, echo=output.append) is None
    assert output == [
        "Demo data is already there; for a fresh sign-in link run `peerlog invite admin`."
    ]
    from server.console import UserError

    with pytest.raises(UserError, match="already has users"):
        await demo.run(settings, today=TODAY, echo=output.append)


# --- the sync engine takes the demo as its own -----------------------------------------------------


async def _pull_all(user: User) -> list[Any]:
    changes: list[Any] = []
    cursor = None
    while True:
        page = await engine.pull(user, cursor, 1000)
        assert isinstance(page, PullResponse)
        changes += page.changes
        cursor = page.cursor
        if not page.has_more:
            return changes


async def test_pull_finds_every_demo_row_in_each_users_scope(filled: Demo) -> None:
    # One coordinator per community between them receive every row, each exactly once.
    everything: list[Any] = []
    for community in await Community.all():
        coordinator = await User.create(
            username=f"coord-{community.code}",
            display_name="Coordinator",
            role=Role.COORDINATOR,
            community=community,
        )
        pulled = await _pull_all(coordinator)
        # The questionnaires are everyone's (but volunteers'); the program's rows, theirs alone.
        assert {str(c.id) for c in pulled if c.entity == "instrument"} == set(BUILT_IN)
        everything += [c for c in pulled if c.entity != "instrument"]
    assert len(everything) == len(filled.program.synced())
    assert len({(c.entity, str(c.id)) for c in everything}) == len(everything)
    # An administrator's phone gets a bounded scope, never the whole program (SPEC 3).
    admin = await User.get(username="admin")
    assert len(await _pull_all(admin)) < len(everything) / 100

    peer = await User.get(username="peer")
    theirs = await _pull_all(peer)
    pulled = {str(c.id) for c in theirs if c.entity == "participant"}
    led = {str(p.id) for p in await Participant.filter(peer_leader_id=peer.id)}
    assert led and led <= pulled
    assert any(c.entity == "contact" for c in theirs)
    assert any(c.entity == "group_meeting" for c in theirs)


async def test_editing_a_demo_meeting_updates_the_contacts_it_expanded_into(filled: Demo) -> None:
    peer = await User.get(username="peer")
    group = await Group.filter(leader_id=peer.id).first()
    assert group is not None
    meeting = await GroupMeeting.filter(group_id=group.id).order_by("-occurred_at").first()
    assert meeting is not None and len(meeting.attendee_ids) >= 2
    dropped = meeting.attendee_ids[0]
    before = await Contact.filter(meeting_id=meeting.id).count()

    result = await engine.write(
        peer, "group_meeting", meeting.id, {"attendee_ids": meeting.attendee_ids[1:]}, 1
    )

    assert result.status == "applied", result
    assert await Contact.filter(meeting_id=meeting.id).count() == before  # no duplicates
    gone = await Contact.get(meeting_id=meeting.id, participant_id=dropped)
    assert gone.voided and gone.version == 2


# --- the evaluation records (issue 14) ------------------------------------------------------------


async def test_each_participants_clinical_columns_are_derived_from_their_measurement_rows(
    filled: Demo,
) -> None:
    readings: dict[Any, list[outcomes.Reading]] = defaultdict(list)
    for r in await Measurement.all().order_by("seq"):
        readings[r.participant_id].append(  # type: ignore[attr-defined]
            outcomes.Reading(r.marker, r.value, r.measured_on, r.source, r.voided, r.seq, str(r.id))
        )
    people = await Participant.all()
    assert all(readings[p.id] for p in people)
    for p in people:
        derived = outcomes.participant_columns(readings[p.id])
        assert {k: getattr(p, k) for k in derived} == derived, p.code
    # A contact's reported value is its self-report row, under the id the engine gives it.
    reported = [c for c in await Contact.all() if c.glucose_mmol is not None]
    ids = {str(outcomes.contact_reading_id(c.id, "glucose")) for c in reported}
    rows = await Measurement.filter(marker="glucose").values_list("id", "source", "contact_id")
    assert {str(i) for i, _, _ in rows} == ids
    assert {s for _, s, _ in rows} == {"self_report"}


async def test_distress_falls_a_little_and_outcomes_are_better_where_ratings_are_higher(
    filled: Demo,
) -> None:
    scores: dict[Any, dict[str, float]] = defaultdict(dict)
    for a in await Assessment.filter(instrument_id="dds2"):
        scores[a.participant_id][a.time_point] = a.score  # type: ignore[attr-defined]
        assert 1 <= a.score <= 6 and a.score == statistics.mean(a.answers.values())
    eased = [s["follow_up"] - s["baseline"] for s in scores.values() if len(s) == 2]
    assert len(eased) > 0.4 * len(scores)
    assert -0.6 < statistics.mean(eased) < 0
    # Ratings differ from one peer leader to the next, and go with their participants' HbA1c.
    rated: dict[Any, list[float]] = defaultdict(list)
    for r in await ImplementationRating.all():
        rated[r.peer_leader_id].append(  # type: ignore[attr-defined]
            statistics.mean(getattr(r, n) for n in RATED)
        )
    changed: dict[Any, list[float]] = defaultdict(list)
    for p in await Participant.filter(hba1c__isnull=False):
        changed[p.peer_leader_id].append(p.hba1c - p.hba1c_baseline)  # type: ignore[attr-defined, operator]
    leaders = [k for k in rated if changed.get(k)]
    means = [statistics.mean(rated[k]) for k in leaders]
    assert statistics.stdev(means) > 0.3
    assert statistics.correlation(means, [statistics.mean(changed[k]) for k in leaders]) < -0.1


async def test_group_activities_supervision_and_training_are_there_for_the_dashboard(
    filled: Demo,
) -> None:
    activities = await GroupActivity.all()
    channels = Counter(a.channel for a in activities)
    assert channels["wechat_group"] > channels["neighbourhood_activity"] > 0
    for a in activities:
        assert (a.group_id is None) != (a.committee_id is None)  # type: ignore[attr-defined]
        assert a.occurred_at < datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    leaders = await User.filter(role=Role.PEER_LEADER).count()
    supervised = {s.peer_leader_id for s in await Supervision.all()}  # type: ignore[attr-defined]
    assert 0.5 * leaders < len(supervised) <= leaders
    trainings = await Training.all()
    assert trainings and all(t.attendee_ids and t.held_on < TODAY for t in trainings)
