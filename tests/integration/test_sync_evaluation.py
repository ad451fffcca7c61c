"""The evaluation records (measurement, assessment, group activity, supervision, training,
implementation rating) go through the one sync engine like the others: created once however
often a push is replayed, merged and in conflict field by field, refused with a message per
field when out of range or mis-dated, and received only by the roles that may see them
(volunteers never). One set of promises, every record (STYLE 8)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from server.settings import Settings
from sync.entities import REGISTRY
from sync.models import (
    Committee,
    Community,
    Conflict,
    Group,
    Participant,
    Role,
    User,
)
from tests import factories as f
from tests.integration.test_sync_helpers import mutation, pull_all, push

TOMORROW = (date.today() + timedelta(days=3)).isoformat()
SOON = f"{TOMORROW}T09:00:00+08:00"


@dataclass
class Program:
    community: Community
    committee: Committee
    leader: User
    other_leader: User
    volunteer: User
    coordinator: User
    group: Group
    person: Participant


async def _program() -> Program:
    community = await f.community()
    committee = await f.committee(community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    group = await f.group(community, leader=leader, committee=committee)
    return Program(
        community=community,
        committee=committee,
        leader=leader,
        other_leader=await f.user(Role.PEER_LEADER, community=community),
        volunteer=await f.user(Role.VOLUNTEER, community=community, committee=committee),
        coordinator=await f.user(Role.COORDINATOR, community=community),
        group=group,
        person=await f.participant(committee, peer_leader=leader, group=group),
    )


@dataclass(frozen=True)
class Case:
    entity: str
    author: str  # "leader" or "coordinator"
    fields: Callable[[Program], dict[str, Any]]
    # Two fields a second device may edit: the same one (a conflict) or another (a merge).
    edit: tuple[str, Any, Any]
    other: tuple[str, Any]
    # A value out of its range, and one mis-dated, each refused for that field.
    out_of_range: tuple[str, Any]
    mis_dated: tuple[str, Any]
    # Whether the author's peer leader pulls it (staff-only records: never).
    leader_receives: bool

    def __str__(self) -> str:
        return self.entity


CASES = [
    Case(
        "measurement",
        "leader",
        lambda p: {
            "participant_id": str(p.person.id),
            "marker": "hba1c",
            "value": 8.4,
            "measured_on": "2026-11-02",
            "source": "clinic",
        },
        ("note", "空腹", "餐后"),
        ("value", 8.6),
        ("value", 25),
        ("measured_on", TOMORROW),
        True,
    ),
    Case(
        "assessment",
        "leader",
        lambda p: {
            "participant_id": str(p.person.id),
            "instrument_id": "dds2",
            "time_point": "baseline",
            "assessed_on": "2026-11-02",
            "answers": {"dds2_1": 4, "dds2_2": 3},
        },
        ("note", "在家", "电话"),
        ("time_point", "follow_up"),
        ("answers", {"dds2_1": 7, "dds2_2": 3}),
        ("assessed_on", "2025-01-01"),  # long before the participant's enrolment
        True,
    ),
    Case(
        "group_activity",
        "leader",
        lambda p: {
            "group_id": str(p.group.id),
            "channel": "wechat_group",
            "occurred_at": "2026-11-02T20:00:00+08:00",
            "topic": "冬季运动",
            "functions": ["ongoing_support"],
            "participants_count": 9,
            "residents_count": 0,
        },
        ("topic", "饮食", "足部护理"),
        ("participants_count", 11),
        ("participants_count", 2000),
        ("occurred_at", SOON),
        True,
    ),
    Case(
        "supervision",
        "coordinator",
        lambda p: {
            "peer_leader_id": str(p.leader.id),
            "occurred_at": "2026-11-02T10:00:00+08:00",
            "mode": "phone_call",
            "topics": ["burnout"],
        },
        ("concerns", "太累", "组员流失"),
        ("follow_up", "下周面谈"),
        ("mode", "telepathy"),
        ("occurred_at", SOON),
        False,
    ),
    Case(
        "training",
        "coordinator",
        lambda p: {
            "title": "低血糖的识别",
            "held_on": "2026-10-20",
            "attendee_ids": [str(p.leader.id)],
            "hours": 2,
        },
        ("title", "低血糖", "足部护理"),
        ("hours", 3),
        ("hours", 30),
        ("held_on", TOMORROW),
        False,
    ),
    Case(
        "implementation_rating",
        "coordinator",
        lambda p: {"peer_leader_id": str(p.leader.id), "period": "2026-Q3", "being_there": 4},
        ("comment", "很好", "一般"),
        ("linkage_to_care", 3),
        ("being_there", 6),
        ("period", "2099-Q1"),
        False,
    ),
]


async def _as(client: httpx.AsyncClient, settings: Settings, who: User) -> None:
    client.cookies.clear()
    client.headers.pop("x-csrftoken", None)
    await f.sign_in(client, who, settings)


async def _push(
    client: httpx.AsyncClient, device: uuid.UUID, *mutations: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await push(client, device, list(mutations))
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def _author(case: Case, p: Program) -> User:
    return p.leader if case.author == "leader" else p.coordinator


async def _rows(entity: str, rid: uuid.UUID) -> list[dict[str, Any]]:
    from tortoise import connections

    from sync import db as sync_db

    mark = "$1" if sync_db.dialect() == "postgres" else "?"
    return await connections.get("default").execute_query_dict(
        f"SELECT * FROM {REGISTRY[entity].table} WHERE id = {mark}", [str(rid)]
    )


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_a_record_is_created_once_however_often_the_push_is_replayed(
    case: Case, client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await _program()
    await _as(client, settings, _author(case, p))
    device, rid = uuid.uuid4(), uuid.uuid4()
    create = mutation(1, case.entity, rid, case.fields(p))
    first = await _push(client, device, create)
    assert first[0]["status"] == "applied", first
    again = await _push(client, device, create)
    assert again[0]["status"] == "applied" and again[0]["duplicate"] is True
    assert again[0]["version"] == first[0]["version"] == 1
    rows = await _rows(case.entity, rid)
    assert len(rows) == 1 and rows[0]["version"] == 1


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_volunteers_never_receive_nor_write_it_and_peer_leaders_only_their_own(
    case: Case, client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await _program()
    await _as(client, settings, _author(case, p))
    rid = uuid.uuid4()
    assert (await _push(client, uuid.uuid4(), mutation(1, case.entity, rid, case.fields(p))))[0][
        "status"
    ] == "applied"

    def ids(changes: list[dict[str, Any]]) -> set[str]:
        return {c["id"] for c in changes if c["entity"] == case.entity}

    await _as(client, settings, p.volunteer)
    changes, _ = await pull_all(client)
    assert {c["entity"] for c in changes} <= {"participant"}
    refused = await _push(
        client, uuid.uuid4(), mutation(1, case.entity, uuid.uuid4(), case.fields(p))
    )
    assert refused[0]["status"] == "rejected"
    await _as(client, settings, p.leader)
    assert ids((await pull_all(client))[0]) == ({str(rid)} if case.leader_receives else set())
    await _as(client, settings, p.other_leader)
    assert ids((await pull_all(client))[0]) == set()
    await _as(client, settings, p.coordinator)
    assert ids((await pull_all(client))[0]) == {str(rid)}
    other_coordinator = await f.user(Role.COORDINATOR)
    await _as(client, settings, other_coordinator)
    assert ids((await pull_all(client))[0]) == set()


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_edits_of_different_fields_merge_and_of_the_same_field_conflict(
    case: Case, client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await _program()
    await _as(client, settings, _author(case, p))
    rid = uuid.uuid4()
    phone_a, phone_b, phone_c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _push(client, phone_a, mutation(1, case.entity, rid, case.fields(p)))
    field, mine, theirs = case.edit
    a = await _push(client, phone_a, mutation(2, case.entity, rid, {field: mine}, base_version=1))
    assert (a[0]["status"], a[0]["version"]) == ("applied", 2)
    other, value = case.other
    b = await _push(client, phone_b, mutation(1, case.entity, rid, {other: value}, base_version=1))
    assert (b[0]["status"], b[0]["version"]) == ("merged", 3)
    c = await _push(client, phone_c, mutation(1, case.entity, rid, {field: theirs}, base_version=1))
    assert c[0]["status"] == "conflict"
    conflict = await Conflict.get(id=c[0]["conflict_id"])
    assert conflict.entity == case.entity
    base = case.fields(p).get(field)
    assert conflict.fields_json == {field: {"base": base, "server": mine, "device": theirs}}
    row = (await _rows(case.entity, rid))[0]
    assert row[field] == mine  # the server's value kept, the device's in the conflict
    assert (
        float(row[other]) == float(value) if isinstance(value, int | float) else row[other] == value
    )


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_out_of_range_and_mis_dated_values_are_refused_with_a_message_per_field(
    case: Case, client: httpx.AsyncClient, settings: Settings
) -> None:
    p = await _program()
    await _as(client, settings, _author(case, p))
    device = uuid.uuid4()
    results = await _push(
        client,
        device,
        *(
            mutation(n, case.entity, uuid.uuid4(), {**case.fields(p), name: bad})
            for n, (name, bad) in enumerate((case.out_of_range, case.mis_dated), start=1)
        ),
    )
    for result, (name, _bad) in zip(results, (case.out_of_range, case.mis_dated), strict=True):
        assert result["status"] == "rejected", result
        assert list(result["errors"]) == [name], result["errors"]
        assert all(isinstance(m, str) and m for m in result["errors"][name])
    # In the reader's language: zh-CN unless the phone says otherwise.
    name, bad = case.out_of_range
    client.cookies.set("lang", "en")
    english = await _push(
        client, device, mutation(3, case.entity, uuid.uuid4(), {**case.fields(p), name: bad})
    )
    assert english[0]["errors"][name] != results[0]["errors"][name]
