"""Measurements keep the participant's clinical columns (SPEC 2: "derived from these rows,
never overwritten"): a phone's reading, a contact's reported values and a coordinator's write
of the old columns all become rows, and the columns follow the rows. Assessments are scored by
the server; instruments reach the phones that ask questionnaires."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.settings import Settings
from sync import engine, outcomes
from sync.models import Measurement, Participant, Role
from tests import factories as f
from tests.integration.test_sync_helpers import contact_fields, mutation, pull_all, push


async def _push(
    client: httpx.AsyncClient, device: uuid.UUID, *ms: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await push(client, device, list(ms))
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


async def _leader_and_person(client: httpx.AsyncClient, settings: Settings, **kw: Any):
    community = await f.community()
    committee = await f.committee(community)
    leader = await f.user(Role.PEER_LEADER, community=community)
    person = await f.participant(committee, peer_leader=leader, **kw)
    await f.sign_in(client, leader, settings)
    return leader, person


async def _rows(person: Participant) -> list[Measurement]:
    return await Measurement.filter(participant_id=person.id).order_by("seq")


async def test_a_contact_s_reported_values_become_self_reported_rows_that_follow_the_contact(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    leader, person = await _leader_and_person(
        client, settings, bp_systolic=150, bp_diastolic=95, bp_on=date(2026, 10, 1)
    )
    # The clinic's reading, as migration 0010 moved it into rows.
    for marker, value in (("bp_systolic", 150), ("bp_diastolic", 95)):
        await Measurement.create(
            id=uuid.uuid4(),
            participant_id=person.id,
            community_id=person.community_id,  # type: ignore[attr-defined]
            marker=marker,
            value=value,
            measured_on=date(2026, 10, 1),
            source="clinic",
            seq=1,
        )
    device, contact = uuid.uuid4(), uuid.uuid4()
    # 23:30 in Shanghai on the 19th is the 19th, whatever UTC says.
    fields = contact_fields(
        person.id,
        occurred_at="2026-11-19T23:30:00+08:00",
        glucose_mmol=7.8,
        bp_systolic=138,
        bp_diastolic=86,
    )
    assert (await _push(client, device, mutation(1, "contact", contact, fields)))[0][
        "status"
    ] == "applied"
    rows = {r.marker: r for r in await _rows(person) if r.contact_id}  # type: ignore[attr-defined]
    assert set(rows) == {"glucose", "bp_systolic", "bp_diastolic"}
    for marker, row in rows.items():
        assert row.id == outcomes.contact_reading_id(contact, marker)
        assert (row.source, row.contact_id, row.entered_by_id) == (
            "self_report",
            contact,
            leader.id,
        )  # type: ignore[attr-defined]
        assert row.measured_on == date(2026, 11, 19) and not row.voided
    assert rows["glucose"].value == 7.8
    # The newest blood pressure is now the participant's.
    await person.refresh_from_db()
    assert (person.bp_systolic, person.bp_diastolic, person.bp_on) == (138, 86, date(2026, 11, 19))

    # Corrected on the contact: the same row changes; cleared: its row is voided.
    edit = {"glucose_mmol": 6.9, "bp_systolic": None, "bp_diastolic": None}
    assert (await _push(client, device, mutation(2, "contact", contact, edit, base_version=1)))[0][
        "status"
    ] == "applied"
    rows = {r.marker: r for r in await _rows(person) if r.contact_id}  # type: ignore[attr-defined]
    assert (rows["glucose"].value, rows["glucose"].version, rows["glucose"].voided) == (
        6.9,
        2,
        False,
    )
    assert rows["bp_systolic"].voided and rows["bp_diastolic"].voided
    await person.refresh_from_db()
    assert (person.bp_systolic, person.bp_diastolic, person.bp_on) == (150, 95, date(2026, 10, 1))

    # A voided contact's values no longer count.
    void = {"voided": True, "void_reason": "记错了人"}
    await _push(client, device, mutation(3, "contact", contact, void, base_version=2))
    assert all(r.voided for r in await _rows(person) if r.contact_id)  # type: ignore[attr-defined]
    # Its rows are the contact's to change, not a phone's.
    refused = await _push(
        client,
        device,
        mutation(4, "measurement", rows["glucose"].id, {"value": 5.0}, base_version=2),
    )
    assert refused[0]["status"] == "rejected" and "id" in refused[0]["errors"]


@pytest.mark.parametrize(
    ("zone", "day"),
    [("Asia/Shanghai", date(2026, 11, 20)), ("America/Los_Angeles", date(2026, 11, 19))],
)
async def test_a_reported_value_is_dated_in_the_time_zone_the_settings_name(
    settings: Settings, zone: str, day: date
) -> None:
    # 09:30 on the 20th in Shanghai is still the 19th in Los Angeles. The app is made from
    # settings naming the zone: ``create_app`` alone must carry it to the engine.
    program = dataclasses.replace(settings, timezone=zone)
    engine.configure()  # what the engine would use if nothing told it the program's zone
    app = create_app(program, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
        _leader, person = await _leader_and_person(client, program)
        fields = contact_fields(person.id, occurred_at="2026-11-20T09:30:00+08:00", weight_kg=70.5)
        result = await _push(client, uuid.uuid4(), mutation(1, "contact", uuid.uuid4(), fields))
    assert result[0]["status"] == "applied", result
    (row,) = await _rows(person)
    assert (row.marker, row.measured_on) == ("weight", day)
    await person.refresh_from_db()
    assert person.weight_on == day


async def test_a_reading_before_the_baseline_never_becomes_the_latest(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person = await _leader_and_person(client, settings, enrolled_on=date(2026, 5, 1))
    device = uuid.uuid4()

    def reading(n: int, value: float, day: str, source: str = "clinic") -> dict[str, Any]:
        fields = {
            "participant_id": str(person.id),
            "marker": "hba1c",
            "value": value,
            "measured_on": day,
            "source": source,
        }
        return mutation(n, "measurement", uuid.uuid4(), fields)

    await _push(client, device, reading(1, 9.1, "2026-05-10"))
    await person.refresh_from_db()
    assert (person.hba1c_baseline, person.hba1c_baseline_on, person.hba1c) == (
        9.1,
        date(2026, 5, 10),
        None,
    )
    await _push(client, device, reading(2, 8.4, "2026-11-02"))
    await person.refresh_from_db()
    assert (person.hba1c, person.hba1c_on) == (8.4, date(2026, 11, 2))
    # A self-report earlier than the clinic baseline: kept, but neither baseline nor latest.
    await _push(client, device, reading(3, 7.2, "2026-04-20", "self_report"))
    await person.refresh_from_db()
    assert (person.hba1c_baseline, person.hba1c) == (9.1, 8.4)
    assert await Measurement.filter(participant_id=person.id).count() == 3


async def test_a_coordinator_writing_the_old_columns_makes_rows(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    committee = await f.committee(community)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    person = await f.participant(committee)
    await f.sign_in(client, coordinator, settings)
    device = uuid.uuid4()
    fields = {
        "hba1c_baseline": 9.4,
        "hba1c_baseline_on": "2026-05-02",
        "hba1c": 8.7,
        "hba1c_on": "2026-11-01",
        "weight_kg": 71.5,
        "weight_on": "2026-11-01",
    }
    assert (
        await _push(client, device, mutation(1, "participant", person.id, fields, base_version=1))
    )[0]["status"] == "applied"
    rows = [
        (r.marker, r.value, r.measured_on.isoformat(), r.source, r.voided)
        for r in await _rows(person)
    ]
    assert sorted(rows) == sorted(
        [
            ("hba1c", 9.4, "2026-05-02", "clinic", False),
            ("hba1c", 8.7, "2026-11-01", "clinic", False),
            ("weight", 71.5, "2026-11-01", "clinic", False),
        ]
    )
    # A correction of the same day replaces the row the column showed.
    await person.refresh_from_db()
    again = await _push(
        client,
        device,
        mutation(2, "participant", person.id, {"hba1c": 8.5}, base_version=person.version),
    )
    assert again[0]["status"] in ("applied", "merged"), again
    latest = [
        r for r in await _rows(person) if r.marker == "hba1c" and r.measured_on == date(2026, 11, 1)
    ]
    assert sorted((r.value, r.voided) for r in latest) == [(8.5, False), (8.7, True)]
    await person.refresh_from_db()
    assert (person.hba1c_baseline, person.hba1c, person.weight_kg) == (9.4, 8.5, 71.5)


async def test_one_staff_batch_of_many_participants_keeps_each_one_s_rows_apart(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # The derivation reads the batch's rows once for all participants: a correction later in
    # the batch must still find the row an earlier mutation of the same batch wrote, and only
    # among its own participant's rows.
    community = await f.community()
    committee = await f.committee(community)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    people = [await f.participant(committee) for _ in range(3)]
    await f.sign_in(client, coordinator, settings)
    mutations = []
    n = 0
    for i, person in enumerate(people):
        first = {
            "hba1c_baseline": 9.0 + i,
            "hba1c_baseline_on": "2026-05-02",
            "hba1c": 8.7,
            "hba1c_on": "2026-11-01",
        }
        n += 1
        mutations.append(mutation(n, "participant", person.id, first, base_version=1))
    for i, person in enumerate(people):  # same day: replaces the row written just above
        n += 1
        mutations.append(
            mutation(n, "participant", person.id, {"hba1c": 8.0 + i / 10}, base_version=2)
        )
    results = await _push(client, uuid.uuid4(), *mutations)
    assert [r["status"] for r in results] == ["applied"] * 6, results
    for i, person in enumerate(people):
        rows = sorted(
            (r.value, r.measured_on.isoformat(), r.voided)
            for r in await _rows(person)
            if r.marker == "hba1c"
        )
        assert rows == sorted(
            [
                (9.0 + i, "2026-05-02", False),
                (8.7, "2026-11-01", True),
                (8.0 + i / 10, "2026-11-01", False),
            ]
        )
        await person.refresh_from_db()
        assert (person.hba1c_baseline, person.hba1c) == (9.0 + i, 8.0 + i / 10)


async def test_a_latest_hba1c_dated_before_the_baseline_is_refused_on_its_date(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    committee = await f.committee(community)
    coordinator = await f.user(Role.COORDINATOR, community=community)
    person = await f.participant(committee)
    await f.sign_in(client, coordinator, settings)
    fields = {
        "hba1c_baseline": 9.4,
        "hba1c_baseline_on": "2026-06-01",
        "hba1c": 8.2,
        "hba1c_on": "2026-03-01",  # three months before the baseline
    }
    result = (
        await _push(
            client, uuid.uuid4(), mutation(1, "participant", person.id, fields, base_version=1)
        )
    )[0]
    assert result["status"] == "rejected"
    assert list(result["errors"]) == ["hba1c_on"]
    assert "baseline" in result["errors"]["hba1c_on"][0]
    assert await _rows(person) == []


async def test_the_server_scores_an_assessment_and_never_takes_a_phone_s_score(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _leader, person = await _leader_and_person(client, settings)
    device, rid = uuid.uuid4(), uuid.uuid4()
    fields = {
        "participant_id": str(person.id),
        "instrument_id": "dds2",
        "time_point": "baseline",
        "assessed_on": "2026-11-02",
        "answers": {"dds2_1": 4, "dds2_2": 3},
    }
    assert (await _push(client, device, mutation(1, "assessment", rid, fields)))[0][
        "status"
    ] == "applied"
    changes, _ = await pull_all(client)
    mine = [c for c in changes if c["entity"] == "assessment"]
    assert [c["fields"]["score"] for c in mine] == [3.5]
    cheat = await _push(
        client, device, mutation(2, "assessment", uuid.uuid4(), {**fields, "score": 1})
    )
    assert cheat[0]["status"] == "rejected" and "score" in cheat[0]["errors"]
    missing = await _push(
        client,
        device,
        mutation(3, "assessment", uuid.uuid4(), {**fields, "answers": {"dds2_1": 2}}),
    )
    assert missing[0]["status"] == "rejected" and list(missing[0]["errors"]) == ["answers"]
    unknown = await _push(
        client, device, mutation(4, "assessment", uuid.uuid4(), {**fields, "instrument_id": "phq9"})
    )
    assert list(unknown[0]["errors"]) == ["instrument_id"]


async def test_instruments_reach_peer_leaders_and_staff_not_volunteers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    community = await f.community()
    committee = await f.committee(community)
    for role in (Role.PEER_LEADER, Role.COORDINATOR, Role.VOLUNTEER):
        who = await f.user(
            role,
            community=community,
            **({"committee": committee} if role is Role.VOLUNTEER else {}),
        )
        client.cookies.clear()
        await f.sign_in(client, who, settings)
        changes, _ = await pull_all(client)
        got = {c["id"] for c in changes if c["entity"] == "instrument"}
        assert got == (set() if role is Role.VOLUNTEER else {"dds2", "nbsupport"}), role
        if got:
            dds2 = next(c for c in changes if c["id"] == "dds2")
            assert dds2["fields"]["definition"]["cutoff"]["value"] == 3
